"""Who and where: postcode geography, hyperlocal sites, police teams and officers, API keys.

The lowest layer: imports neither ``feeds`` nor ``api`` nor Flask (tests/test_layers.py). Every
function takes a SQLAlchemy session or engine and plain values, so the same code runs under a
request, a CLI command and a queue worker. ``storage``, ``schema``, ``text``, ``urls`` and
``accounts`` are shared by the subpackages.
"""
