"""nn_functional ops."""
CATALOG = []
