"""Products, variants, prices and stock per location; reserves and releases stock."""
