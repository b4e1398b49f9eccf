"""Hyperlocal sites: submission and moderation, the areas they cover, coverage gaps, OPML."""
