"""One router per feature: evaluate, ops, health."""
