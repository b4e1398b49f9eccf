"""The directory: storage, UK postcode geography, and (later) areas, sites and police.

Never imports Flask: every function takes a SQLAlchemy session or engine and plain values, so the
same code runs under a request, a CLI command and a queue worker.
"""
