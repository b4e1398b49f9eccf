"""Every model module of the service, so Alembic compares the migrations with one metadata.

Each domain owns its tables (``directory/*/models.py``, ``feeds/*/models.py``); all share
``directory.storage.Base``. Importing the syndication models registers the others they
reference; the rest are named so that no table is left out.
"""

import directory.geography.models  # noqa: F401
import directory.keys.models  # noqa: F401
import directory.police.models  # noqa: F401
import directory.sites.models  # noqa: F401
import feeds.ingest.models  # noqa: F401
import feeds.syndication.models  # noqa: F401
