"""The op table, one module per family; registry.py holds the machinery."""
