"""Orders' core: the order and its shipment groups as every capability sees them (statuses and rules, errors,
pricing, tables, repository, the shared steps on groups, job kinds and business counters)."""
