"""Settings from the environment (cookiecutter-django style); README.md lists every variable.

These are the settings of the demo (DEBUG=1), the test suite and the benchmarks: plain http, no
HSTS, no secure-only cookies. A deployment runs `retailsync.settings_production`, which imports
these and hardens them (`manage.py check --deploy` is clean there, and warns here).

Absent DATABASE_URL: a SQLite file beside manage.py. Absent CELERY_BROKER_URL: tasks run
in-process (the embedded demo).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

# Django's generic classes (ModelAdmin[Channel], ModelForm[Channel]) subscriptable at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value is None or not value.strip() else int(value)


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Signs sessions, CSRF tokens and password reset links; Django's `django-insecure-` prefix makes
# `check --deploy` flag this one wherever it ends up.
DEBUG_SECRET_KEY = "django-insecure-retailsync-demo-only-key"
# Set by manage.py for the commands that read only the code (makemigrations and the like): they
# sign nothing, so they run without SECRET_KEY on a random key no later process shares.
SIGNS_NOTHING = "RETAILSYNC_SIGNS_NOTHING"


def secret_key(*, debug: bool) -> str:
    """SECRET_KEY, or the file SECRET_KEY_FILE names (a Docker or systemd secret). Only DEBUG
    (the demo) may fall back to a key everyone can read; anything else refuses to start."""
    key = os.environ.get("SECRET_KEY", "").strip()
    key_file = os.environ.get("SECRET_KEY_FILE", "").strip()
    if not key and key_file:
        try:
            key = Path(key_file).read_text().strip()
        except OSError as error:
            raise ImproperlyConfigured(
                f"SECRET_KEY_FILE={key_file} cannot be read: {error.strerror}."
            ) from None
    if key:
        return key
    if debug:
        return DEBUG_SECRET_KEY
    if os.environ.get(SIGNS_NOTHING) == "1":  # manage.py, for a command that only reads code
        return "unused-" + secrets.token_urlsafe(50)
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Outside DEBUG retailsync refuses to start without a secret key: "
        "set SECRET_KEY (or SECRET_KEY_FILE, a file holding it) to a long random value, e.g. "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'. "
        "For the demo on your own machine, DEBUG=1 uses a built-in key."
    )


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = secret_key(debug=DEBUG)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",  # locks out repeated failed logins (see "Access" below)
    "rest_framework",
    "django_filters",
    "django_tables2",  # the back office's lists: sorting, pagination, CSV and XLSX export
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI from our own static files: /api/docs/ offline
    "import_export",
    "retailsync.core.apps.CoreConfig",
    "retailsync.apps.RootConfig",  # the composition root: the demo loader's command
    "orders.apps.OrdersConfig",
    "inventory.apps.InventoryConfig",
    "settlements.apps.SettlementsConfig",
    "returns.apps.ReturnsConfig",
    "journals.apps.JournalsConfig",
    "retailsync.reconciliation.apps.ReconciliationConfig",  # the dashboard's daily rollup
]

MIDDLEWARE = [
    # django-prometheus: first and last, so a request's time includes every middleware.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "retailsync.core.correlation.CorrelationIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Before anything reads a path or query: NUL in either is a 400, not a database error.
    "retailsync.core.guards.NulGuardMiddleware",
    "retailsync.core.audit.AuditMiddleware",
    "axes.middleware.AxesMiddleware",  # last but the metrics, as django-axes asks
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "retailsync.urls"
WSGI_APPLICATION = "retailsync.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'retailsync.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The demo runs web requests and in-process tasks on one file: wait rather than fail.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Parameters travel separately from the SQL: no Python-side quoting of every value.
    DATABASES["default"]["OPTIONS"] = {
        "server_side_binding": env_bool("DB_SERVER_SIDE_BINDING", True),
        # No prepared statements (Django's default): measured, they halved stock events
        # applied in-process (generic plans for array parameters) and did not speed up
        # reservations.
    }
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME") or None}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The time zone pages show times in (stored times are UTC whatever it is).
TIME_ZONE = os.environ.get("TIME_ZONE") or "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
# Uploaded files (settlement files and bank statements, as they came): a folder on the demo's
# machine; a shared volume or object storage where several processes run.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# What a page told the person after a write is the outcome its audit record gives.
MESSAGE_STORAGE = "retailsync.core.audit.AuditedMessageStorage"

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

# --- Request bodies ---------------------------------------------------------------------
# Each endpoint answers 413 to a body over its limit, before reading it (retailsync.core.parsers).
# A batch of 500 orders of 5 KB each (2.5 MB) is legal; so is 500 orders of 16 KB.
RETAILSYNC_ORDER_BODY_MAX = env_int("ORDER_BODY_MAX_BYTES", 1024 * 1024)
RETAILSYNC_BATCH_BODY_MAX = env_int("BATCH_BODY_MAX_BYTES", 8 * 1024 * 1024)
# Staff JSON (stock events, returns, allocation, …) and back-office and admin forms.
RETAILSYNC_STAFF_BODY_MAX = env_int("STAFF_BODY_MAX_BYTES", 1024 * 1024)
# Django's own ceiling for a body read whole, behind the limits above: never the one that
# answers. (Uploaded files are not counted; they stream to disk.)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(
    RETAILSYNC_ORDER_BODY_MAX, RETAILSYNC_BATCH_BODY_MAX, RETAILSYNC_STAFF_BODY_MAX
)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "retailsync.core.auth.StaffTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["retailsync.core.auth.IsStaff"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["retailsync.core.parsers.DecimalJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # limit (1-500, default 50) and offset; anything else is a 400 (retailsync/pagination.py).
    "DEFAULT_PAGINATION_CLASS": "retailsync.core.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "retailsync.core.errors.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": None,
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(  # type: ignore[attr-defined]
        "rest_framework.renderers.BrowsableAPIRenderer"
    )

# /api/schema/ and /api/docs/: anyone may read them in the demo and the tests; production
# settings turn this off, and then only staff (a person with a role) may.
API_DOCS_PUBLIC = env_bool("API_DOCS_PUBLIC", True)

SPECTACULAR_SETTINGS = {
    "TITLE": "retailsync API",
    "DESCRIPTION": "Channels' orders and stock in; controlled, auditable accounting out.\n\n"
    "**Body limits.** A body over its endpoint's limit answers 413 "
    '`{"errors": [{"field": "", "message": "body of N bytes is over the limit of M bytes"}]}`, '
    "before it is read: a channel's single order "
    f"{RETAILSYNC_ORDER_BODY_MAX} bytes, a batch {RETAILSYNC_BATCH_BODY_MAX} bytes, every other "
    f"JSON or form body {RETAILSYNC_STAFF_BODY_MAX} bytes (uploads are not counted). A "
    "channel's message over its limit is still kept, as far as it was read and flagged as "
    "truncated, with an exception queued.\n\n"
    "**JSON.** Text must not contain NUL (`\\u0000`) nor a lone UTF-16 surrogate "
    '(`"\\ud800"`), and a staff body must not nest deeper than 32 levels: each is a 400 naming '
    "where it is.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RefundMethodEnum": "returns.models.Return.Method",
        "JournalStatusEnum": "journals.models.JournalEntry.Status",
        "PeriodStatusEnum": "journals.models.AccountingPeriod.Status",
        "SettlementProviderEnum": "settlements.models.Provider",
    },
    # Read at request time (drf-spectacular fixes its own setting when its views are imported).
    "SERVE_PERMISSIONS": ["retailsync.core.auth.ApiDocsAccess"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every operation declares the error answers every endpoint can give (retailsync/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "retailsync.core.schema.declare_common_errors",
    ],
}

# --- Celery -------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
# A request publishes after its commit and must not wait on a dead broker: one attempt to
# connect, given up after this long (the beat's sweeps publish what was missed). Workers keep
# reconnecting on their own terms (broker_connection_retry, broker_connection_max_retries).
# (A publish that may retry, `retry=True`, still retries by its own retry policy.)
RETAILSYNC_BROKER_CONNECT_TIMEOUT = float(os.environ.get("BROKER_CONNECT_TIMEOUT", "0.25"))
CELERY_BROKER_CONNECTION_TIMEOUT = RETAILSYNC_BROKER_CONNECT_TIMEOUT
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "max_retries": 0,
    "socket_connect_timeout": RETAILSYNC_BROKER_CONNECT_TIMEOUT,
}
CELERY_RESULT_BACKEND = None
# No broker: run tasks in the calling process (the embedded demo, quick tests).
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "retailsync")
# A subscriber that keeps failing on an event: tried this many times, waiting twice as long
# after each failure (from this many seconds), then the event is poison (an exception) and is
# left until a person replays it.
RETAILSYNC_EVENT_RETRY_TRIES = env_int("EVENT_RETRY_TRIES", 5)
RETAILSYNC_EVENT_RETRY_BACKOFF_SECONDS = env_int("EVENT_RETRY_BACKOFF_SECONDS", 30)
# What the beat runs and how often: retailsync/beat.py.
# --- exports ---------------------------------------------------------------------------------
# Every CSV/XLSX export quotes text that a spreadsheet would run as a formula (retailsync.core.exports).
from import_export.formats.base_formats import CSV, XLSX  # noqa: E402

from retailsync.beat import CELERY_BEAT_SCHEDULE  # noqa: E402, F401
from retailsync.core.exports import SafeCSV, SafeXLSX  # noqa: E402

IMPORT_FORMATS = [CSV, XLSX]
EXPORT_FORMATS = [SafeCSV, SafeXLSX]

# --- retailsync -----------------------------------------------------------------------------
# Webhook retries older than this are not trusted to replace newer state.
RETAILSYNC_BATCH_MAX = 500

# Hours an exception of each kind may stay open before the workbench shows it overdue; a kind
# not named here has 48. Money that may be lost waits less than a record that can be fixed.
RETAILSYNC_EXCEPTION_SLA_HOURS = {
    "chargeback": 24,
    "deposit_missing": 24,
    "settlement_overdue": 24,
    "payout_variance": 24,
    "ingest_failed": 4,
    "poison_event": 4,
    "availability_lag": 1,
    "backorder": 24,
    "shipment_without_stock": 24,
    "refund_mismatch": 24,
}
# The most rows a list exports at once: narrower filters beyond it (a page refuses, it does
# not cut the file short silently).
RETAILSYNC_EXPORT_MAX_ROWS = 100_000
DJANGO_TABLES2_TEMPLATE = "tables/table.html"
# The largest settlement file or bank statement an upload takes (it is streamed to storage and
# read a record at a time: size costs disk and time, not memory). Over it: 413.
SETTLEMENT_UPLOAD_MAX_BYTES = env_int("SETTLEMENT_UPLOAD_MAX_BYTES", 1024 * 1024 * 1024)
# Webhook receivers exempt from "https and public addresses only" (retailsync.core.webhooks).
WEBHOOK_ALLOWED_HOSTS = env_list("WEBHOOK_ALLOWED_HOSTS", "")
# The channels' availability feed lagging further behind the stock than this (the oldest stock
# change still waiting for the refresh) is queued as an `availability_lag` exception.
AVAILABILITY_LAG_ALERT_SECONDS = int(os.environ.get("AVAILABILITY_LAG_ALERT_SECONDS", "300"))
# Journal entries whose debits are over this (in the entry's currency) need a second, different
# approver before they are posted.
JOURNAL_SECOND_APPROVAL_ABOVE = os.environ.get("JOURNAL_SECOND_APPROVAL_ABOVE", "10000")
# Delivery to the ERP: tries of a retryable failure (timeouts, 5xx, throttling), waiting twice as
# long after each from this many seconds; then the entry is failed and queued for a person.
JOURNAL_DELIVERY_TRIES = env_int("JOURNAL_DELIVERY_TRIES", 5)
JOURNAL_DELIVERY_BACKOFF_SECONDS = env_int("JOURNAL_DELIVERY_BACKOFF_SECONDS", 60)
# ERP adapters of your own, by the name a legal entity's `erp` gives: name → dotted class path.
JOURNAL_ERP_ADAPTERS: dict[str, str] = {}

# --- Access: login lockout, token guessing, and the cache that counts them --------------------
# The cache: Redis in a deployment (CACHE_URL, else the Redis broker's URL), so every web process
# counts failed token authentications together (retailsync.core.throttle); local memory in the demo.
CACHE_URL = os.environ.get("CACHE_URL") or (
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else ""
)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_URL,
        "KEY_PREFIX": "retailsync",
        # A cache that is down must not hold a request: fail fast, and callers count without it.
        "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.5},
    }
    if CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
# Proxies in front that append to X-Forwarded-For (a load balancer: 1). 0 trusts REMOTE_ADDR
# only; a client's own X-Forwarded-For is never believed beyond that many hops.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

# django-axes, on /login/ and /admin/login/ alike (both authenticate through these backends):
# 5 failures for one username from one address lock that pair out for 15 minutes with a 429
# page. An admin unlocks early by deleting the attempt (Admin → Axes → Access attempts) or with
# `manage.py axes_reset_username USERNAME`.
AUTHENTICATION_BACKENDS = [
    "retailsync.core.throttle.LoginLockoutBackend",  # django-axes' backend, for logins over HTTP
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "retailsync.core.throttle.client_ip"
AXES_VERBOSE = False  # no start-up banner on every manage.py command; lockouts are still logged

# --- /metrics (retailsync.core.metrics) ------------------------------------------------------
# Prometheus reads it from these addresses or networks (client_ip above: mind the proxies), or
# with `Authorization: Bearer METRICS_TOKEN`; anyone else gets 403. Neither set: nobody.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "").strip()
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", "")
for _network in METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_IPS: {_network!r} is not an IP address or network (10.0.0.0/8)."
        ) from None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"correlation": {"()": "retailsync.core.correlation.CorrelationIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["correlation"],
            "formatter": "plain",
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.server": {"level": "WARNING"},
        # The MT940 package logs its whole regular expression at ERROR for each field it cannot
        # parse; the upload already reports the row and reason (settlements/parsers/bank_mt940).
        "mt940": {"level": "CRITICAL"},
    },
}
