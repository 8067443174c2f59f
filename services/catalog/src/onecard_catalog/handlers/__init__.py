"""The catalogue's use cases, one module per group: jurisdictions, items, places (venues,
terminals, merchants and their agreement), clients, and the seeding of the official catalogues."""
