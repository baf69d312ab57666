"""loss ops."""
CATALOG = []
