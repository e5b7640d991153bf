"""A third-party provider, as a plugin author would ship it: its own distribution (tests/plugin/conftest.py
writes its .dist-info with an entry point in the `pilothouse.providers` group), a fourth orchestrator kind
("nomad-like": jobs run allocations on clients) and its own words. Nothing in console/, widgets/ or the model
knows it."""
