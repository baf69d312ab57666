"""join ops."""
CATALOG = []
