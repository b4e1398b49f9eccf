"""Feeds in, bulletins out: ``ingest`` (fetch, parse, store, poll) then ``syndication``.

Builds on ``directory`` and never imports ``api`` or Flask (tests/test_layers.py). Inside,
``syndication`` builds on ``ingest``, never the other way; ``directory_changes`` (what an edit
of the directory means for feeds and subscriptions) sits on both, and ``worker`` (the polling
and sending loop) and ``demo`` on top.
"""
