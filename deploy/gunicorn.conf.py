"""gunicorn settings for hyperlocal: ``gunicorn -c deploy/gunicorn.conf.py api.wsgi:app``.

Workers and threads from the environment (``WEB_CONCURRENCY``, ``WEB_THREADS``); with
``PROMETHEUS_MULTIPROC_DIR`` set, a worker that exits has its metrics files marked dead, as
prometheus-client's multiprocess mode asks.
"""

import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = None  # HYPERLOCAL_LOG_FORMAT=json logs each request as a JSON line instead


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
