"""Compute behind the routes; knows nothing of HTTP."""
