"""The embedded default as ``hyperlocal serve`` runs it (one process: the threaded HTTP server
and the in-process worker's poll and send loops), on a given port, for bench/riot_night.py.

Unlike ``serve`` it does not reconcile the feed list at start (the bench has retired every
feed but its own).
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from werkzeug.serving import make_server  # noqa: E402

from api import create_app  # noqa: E402
from api.config import police_interval  # noqa: E402
from api.database import get_database  # noqa: E402
from feeds.worker import run_worker  # noqa: E402

if __name__ == "__main__":
    app = create_app()
    database = get_database(app)
    settings = app.config
    worker = threading.Thread(
        target=run_worker,
        daemon=True,
        args=(database.sessions, app.extensions["hyperlocal_http"], threading.Event()),
        kwargs={
            "concurrency": settings["POLL_CONCURRENCY"],
            "send_concurrency": settings["SEND_CONCURRENCY"],
            "police_interval": police_interval(settings),
        },
    )
    worker.start()
    make_server("127.0.0.1", int(sys.argv[1]), app, threaded=True).serve_forever()
