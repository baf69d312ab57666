"""Service plumbing: settings, errors, request bodies, middleware, the compute worker pool."""
