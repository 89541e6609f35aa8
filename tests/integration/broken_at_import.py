"""A module that cannot be imported: a worker that preloads it dies as it starts."""

raise ImportError("broken_at_import refuses to load")
