"""Loading and saving catalog's records inside a unit of work, by capability: stock (levels, reservations, an
order's stock facts), pre-orders (policies, places, allocations, ship dates), the waitlist, and products."""
