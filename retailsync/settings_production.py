"""Production: everything in `retailsync.settings`, hardened; the documented way to run it
(`make serve`, compose.yaml). `manage.py check --deploy --fail-level WARNING` is clean.

It expects HTTPS to end at a proxy in front (a load balancer, nginx, Caddy) that sets
`X-Forwarded-Proto: https`; a plain http request is redirected to https. README.md lists every
environment variable.
"""

import os

from django.core.exceptions import ImproperlyConfigured

from .settings import *  # noqa: F403
from .settings import env_bool, env_list, secret_key

# Without these the base settings fall back to the demo's SQLite file and in-process tasks.
_missing = [name for name in ("DATABASE_URL", "CELERY_BROKER_URL") if not os.environ.get(name)]
if _missing:
    raise ImproperlyConfigured(
        f"{' and '.join(_missing)} not set: production runs on PostgreSQL (DATABASE_URL) with "
        "Redis as the Celery broker (CELERY_BROKER_URL). See README.md, 'Running it for real'."
    )

DEBUG = False
# Computed again: the base settings may have read DEBUG=1 from the environment and taken the
# demo's key, which is never good enough here.
SECRET_KEY = secret_key(debug=False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# Only a proxy that overwrites the header may sit in front: a client's own header is trusted.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
# Prometheus scrapes each instance's port directly, inside the network (retailsync.core.metrics).
SECURE_REDIRECT_EXEMPT = [r"^metrics$"]
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# The schema names every endpoint and field: staff only, unless a deployment chooses otherwise.
API_DOCS_PUBLIC = env_bool("API_DOCS_PUBLIC", False)
# Only JSON, whatever DEBUG the base settings saw.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

# Hashed, compressed static files, served by whitenoise: `collectstatic` must run first (the
# Dockerfile does at build, `make serve` at start).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# One JSON object a line on stderr, for a log shipper to parse: time (ISO 8601, UTC), level,
# logger, correlation_id (the filter's, "-" outside any request or task) and message, plus what
# a line carries as `extra` and the traceback as `exc_info`. Celery's processes log through the
# same configuration (retailsync/celery.py), so a worker's lines carry the task's id too.
LOGGING = {
    **LOGGING,  # noqa: F405
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": ["levelname", "name", "correlation_id", "message"],
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["correlation"],
            "formatter": "json",
        }
    },
}
