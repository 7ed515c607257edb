"""Provider adapters: each has a sans-I/O ``codec`` and a ``realtime()`` factory."""
