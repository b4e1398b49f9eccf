"""Feeds in: the one HTTP client, parsing, storing posts, schedule, polling, the feed registry."""
