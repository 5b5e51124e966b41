"""Customer accounts: sign-up, profile, addresses, and the orders that belong to an account."""
