"""Draft orders: staff build an order for a customer, hold stock, send an invoice, and complete it."""
