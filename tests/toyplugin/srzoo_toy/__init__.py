"""A test-only srzoo plugin, written as a third-party author would: a tiny SR arch, a discriminator, two losses, a detector.

Core's tests train, bench, infer, tile, export and interpolate with these instead of a real plugin, so core's
suite runs with no plugin installed. Registered through tests/toyplugin/srzoo_toy-1.0.dist-info (entry points;
tests/conftest.py puts tests/toyplugin on the path); like any plugin it imports only srzoo's public API, and
each module loads only when one of its names is first used.
"""
