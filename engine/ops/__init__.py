"""The op table, one module per family; registry.py holds the machinery, with schema, promotion, charging, tracing,
saved, array_vjp and catalog_entry (one job each: docs/ENGINE.md, "Where the op table's machinery lives")."""
