"""Payment: the checkout payment's outcome, payment on terms and dunning, and pre-order balances."""
