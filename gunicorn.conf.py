"""gunicorn as shipped: `make serve`, compose.yaml and the benchmarks all start it with this file.

gthread, 4 workers × 2 threads: on the 2-core machine the ingestion bench measured it ahead of
sync workers (a channel's keep-alive connection is not closed after every answer) and of more
threads (the GIL). Every figure can be overridden from the environment.
"""

import os

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 5
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
wsgi_app = "retailsync.wsgi:application"
