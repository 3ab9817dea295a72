"""Settings for the ingestion benchmark: the project's own, with the bench URLs (which add the
`/bench/echo` baseline endpoint), DEBUG off and logging at WARNING so log lines cost nothing."""

import os

# Outside DEBUG the settings refuse to start without a key; the benchmarks' throwaway
# database signs nothing that matters.
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-for-a-throwaway-database-0123456789")

from retailsync.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
DEBUG = False
# retailsync.settings adds the browsable renderer when DEBUG=1 is in the environment: undo it.
REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] = ["rest_framework.renderers.JSONRenderer"]  # noqa: F405

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
