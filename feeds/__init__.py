"""Feed ingestion and syndication (fetch → parse → store → classify → locate → deliver).

Empty until the ingestion issue; it will import from ``directory`` and never from Flask.
"""
