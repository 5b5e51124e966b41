"""What orders knows of catalog's variants: prices, availability and pre-order policies, kept from catalog's events."""
