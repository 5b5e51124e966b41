"""Returns and exchanges: a customer asks for units back, staff decide, the warehouse receives, refunds follow."""
