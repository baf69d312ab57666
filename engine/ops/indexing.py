"""indexing ops."""
CATALOG = []
