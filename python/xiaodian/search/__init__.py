"""Product search: catalog, ranking profiles, the SearchService."""
