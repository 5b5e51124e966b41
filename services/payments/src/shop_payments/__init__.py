"""Payment plans, captures and refunds through the PSP adapter (sandbox by default)."""
