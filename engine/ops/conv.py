"""conv ops."""
CATALOG = []
