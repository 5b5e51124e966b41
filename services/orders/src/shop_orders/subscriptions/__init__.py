"""Subscriptions: plans staff define, customers subscribing with a card, and each cycle charged off session on
schedule into an ordinary order."""
