"""Feeds in, bulletins out: ``ingest`` (fetch, parse, store, poll) then ``syndication``.

Builds on ``directory`` and never imports ``api`` or Flask (tests/test_layers.py). Inside,
``syndication`` builds on ``ingest``, never the other way; ``worker`` (the polling and sending
loop) and ``demo`` sit on both.
"""
