"""Bulletins out: classify and locate police items, match subscriptions, outlet feeds, webhooks.

Builds on ``feeds.ingest`` (posts, the HTTP client), never the other way round.
"""
