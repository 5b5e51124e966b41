"""Pre-orders: units allocated to waiting pre-order lines, and a campaign's figures."""
