"""Django settings, read from environment variables with safe local defaults.

Production (`DJANGO_ENV=production`) refuses to start without DJANGO_SECRET_KEY."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from dataplatform.pipeline.config import PipelineConfig
from dataplatform.pipeline.notify.transports import SmtpSender

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name, "")
    return [part.strip() for part in raw.split(",") if part.strip()] or default


DJANGO_ENV = os.environ.get("DJANGO_ENV", "local").strip() or "local"
PRODUCTION = DJANGO_ENV == "production"

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "").strip()
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_ENV=production.")
    SECRET_KEY = "local-development-only-not-secret"  # noqa: S105

DEBUG = env_bool("DJANGO_DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "dataplatform.accounts.admin_apps.RunMonitorAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "dataplatform.accounts",
    "dataplatform.web",
    "dataplatform.datasets",
    "dataplatform.ops",
    "dataplatform.notifications",
    "runs",
    "files",
    "dataplatform.alerts",
]

MIDDLEWARE = [
    # First: what the rest sees of X-Forwarded-* depends on who sent them (TRUSTED_PROXIES).
    "dataplatform.web.proxies.TrustedProxyMiddleware",
    "dataplatform.web.middleware.RequestIdMiddleware",
    "dataplatform.web.logs.AccessLogMiddleware",
    "dataplatform.web.middleware.HealthProbeMiddleware",
    "dataplatform.web.resilience.RequestDeadlineMiddleware",
    "dataplatform.web.middleware.SecurityHeadersMiddleware",
    "dataplatform.web.middleware.PrivateCacheMiddleware",
    "dataplatform.web.middleware.FormCharsetMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "dataplatform.web.resilience.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "dataplatform.urls"
WSGI_APPLICATION = "dataplatform.wsgi.application"

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

DATABASE_URL = os.environ.get("DATABASE_URL", "").strip()
if not DATABASE_URL:
    # Local default: SQLite under var/ (created here so any manage.py command works on a fresh clone).
    (BASE_DIR / "var").mkdir(exist_ok=True)
    DATABASE_URL = f"sqlite:///{BASE_DIR / 'var' / 'auth.sqlite3'}"
# Persistent connections, checked before reuse: a restarted PostgreSQL costs a reconnect, not a 500.
DATABASE_CONN_MAX_AGE = int(os.environ.get("DATABASE_CONN_MAX_AGE", "").strip() or 60)
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=DATABASE_CONN_MAX_AGE, conn_health_checks=True)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several gunicorn workers share the file: writers queue (IMMEDIATE, 20 s busy timeout)
    # instead of failing on a lock upgrade, and WAL lets readers go on while one writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL",
    })
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A PostgreSQL that does not answer fails the request (and readiness) fast instead of hanging it.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", int(os.environ.get("DATABASE_CONNECT_TIMEOUT", "").strip() or 2)
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The shared cache (Redis) when several instances run: sessions (cached_db) and rate-limit
# counters. Its outages degrade, never fail: see dataplatform/web/cache.py.
CACHE_URL = os.environ.get("CACHE_URL", "").strip()
if CACHE_URL and not CACHE_URL.startswith(("redis://", "rediss://")):
    raise ImproperlyConfigured("CACHE_URL must be a redis:// or rediss:// URL.")
CACHE_TIMEOUT_SECONDS = float(os.environ.get("CACHE_TIMEOUT_SECONDS", "").strip() or 0.5)
CACHES = {
    "default": {
        "BACKEND": "dataplatform.web.cache.ResilientRedisCache",
        "LOCATION": CACHE_URL,
        "OPTIONS": {
            "socket_connect_timeout": CACHE_TIMEOUT_SECONDS,
            "socket_timeout": CACHE_TIMEOUT_SECONDS,
            # After a failure the cache is skipped for this long (one probe per process then).
            "retry_after_seconds": 5.0,
        },
    }
    if CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "run-monitor"}
}

# Sessions: Django's engines, chosen by where the instances run. `manage.py clearsessions`
# removes expired ones whichever it is.
# - CACHE_URL (several instances share Redis): cached_db, read from Redis, written to both.
# - SQLite (one machine, however many workers): the file engine, one small file per session
#   in SESSION_FILE_PATH (default: "sessions" next to the database file). Every worker reads
#   the same files, so a logout ends the session everywhere; a page reads a file (~0.08 ms)
#   instead of building an ORM query (~0.5 ms). A per-process cache (locmem) would keep
#   serving a session another worker has ended, so it is not an option.
# - PostgreSQL without a cache (instances may be on several machines): the database.
_SQLITE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
if CACHE_URL:
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
elif _SQLITE:
    SESSION_ENGINE = "django.contrib.sessions.backends.file"
    _database_file = str(DATABASES["default"].get("NAME") or "")
    SESSION_FILE_PATH = os.environ.get("SESSION_FILE_PATH", "").strip() or str(
        Path(_database_file).parent / "sessions"
        if _database_file and not _database_file.startswith((":memory:", "file:"))
        else BASE_DIR / "var" / "sessions"
    )
    Path(SESSION_FILE_PATH).mkdir(parents=True, exist_ok=True, mode=0o700)
else:
    SESSION_ENGINE = "django.contrib.sessions.backends.db"
# Django's ModelBackend and DRF's TokenAuthentication, extended to read the role names in the
# same query as the user (dataplatform/accounts/backends.py).
AUTHENTICATION_BACKENDS = ["dataplatform.accounts.backends.RoleModelBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", "").strip() or BASE_DIR / "var" / "staticfiles")

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/runs/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
# htmx requests with a stale CSRF token reload the page instead of failing silently.
CSRF_FAILURE_VIEW = "dataplatform.web.decorators.csrf_failure"

# The pipeline core's configuration (table names, region, endpoint, dispatcher...).
PIPELINE_CONFIG = PipelineConfig.from_env()
HEALTH_CACHE_SECONDS = float(os.environ.get("HEALTH_CACHE_SECONDS", "5") or 5)
AWS_CONSOLE_URL = os.environ.get("AWS_CONSOLE_URL", "https://console.aws.amazon.com").strip()
# Live pages (a run in flight, the runs list): one poll per page every this many seconds.
POLL_INTERVAL_SECONDS = float(os.environ.get("POLL_INTERVAL_SECONDS", "5").strip() or 5)
if not 0.2 <= POLL_INTERVAL_SECONDS <= 300:
    raise ImproperlyConfigured("POLL_INTERVAL_SECONDS must be between 0.2 and 300.")

# Alerts (dataplatform.alerts): scrapers read /metrics with `Authorization: Bearer <METRICS_TOKEN>`
# (empty: only viewers' tokens and sessions); /health/ calls the evaluator degraded past EVALUATOR_STALE_SECONDS.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "").strip()
if METRICS_TOKEN and len(METRICS_TOKEN) < 24:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 24 characters (or empty to turn it off).")
EVALUATOR_STALE_SECONDS = float(os.environ.get("EVALUATOR_STALE_SECONDS", "").strip() or 300)
# How often the attention page (/) refreshes itself (one htmx request per interval).
ATTENTION_POLL_SECONDS = max(2, int(os.environ.get("ATTENTION_POLL_SECONDS", "").strip() or 15))
# SMTP for email channels: Django's names, parsed by the same code as the Lambda's sender; no EMAIL_HOST = no email.
try:
    _smtp = SmtpSender.from_env()
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from exc
EMAIL_HOST = _smtp.host if _smtp else ""
if _smtp is not None:
    EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD = _smtp.port, _smtp.username or "", _smtp.password or ""
    EMAIL_USE_TLS, EMAIL_USE_SSL, EMAIL_TIMEOUT, DEFAULT_FROM_EMAIL = (
        _smtp.use_tls, _smtp.use_ssl, int(_smtp.timeout), _smtp.from_address
    )
# Rate limits (fixed windows, "N/sec|min|hour|day"): counters in the shared cache with
# CACHE_URL, else in the auth database (RateCounter), so they hold across worker processes.
# A counter store that fails lets requests through with a warning (fail open).
RATE_LIMIT_STORE = "cache" if CACHE_URL else "database"
LOGIN_RATE_PER_ACCOUNT = os.environ.get("LOGIN_RATE_PER_ACCOUNT", "").strip() or "5/min"
LOGIN_RATE_PER_ADDRESS = os.environ.get("LOGIN_RATE_PER_ADDRESS", "").strip() or "20/min"
PAGE_ACTION_RATE = os.environ.get("PAGE_ACTION_RATE", "").strip() or "30/min"

# Proxies (addresses or networks) whose X-Forwarded-For/-Proto are believed; from anyone
# else those headers are dropped before Django sees them.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])
if TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# A read request gives up on the store after this long (503 + Retry-After); 0 = no deadline.
REQUEST_DEADLINE_SECONDS = float(os.environ.get("REQUEST_DEADLINE_SECONDS", "").strip() or 10)

REST_FRAMEWORK: dict[str, object] = {
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["dataplatform.api.parsers.BoundedJSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "dataplatform.accounts.backends.RoleTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "dataplatform.api.negotiation.BrowsableForSessionUsers",
    "DEFAULT_THROTTLE_CLASSES": ["dataplatform.api.throttling.RoleRateThrottle"],
    "EXCEPTION_HANDLER": "dataplatform.api.errors.api_exception_handler",
}
# Per-user API request rates ("N/sec|min|hour|day"); users with the pipeline role get their own.
API_THROTTLE_RATE = os.environ.get("API_THROTTLE_RATE", "").strip() or "1200/min"
API_PIPELINE_THROTTLE_RATE = os.environ.get("API_PIPELINE_THROTTLE_RATE", "").strip() or "12000/min"
# Largest request body (bytes) read into memory; bigger API bodies get 413. 10 MiB fits a
# trigger listing 100,000 typical file locations.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("API_MAX_BODY_BYTES", "").strip() or 10 * 1024 * 1024)

SPECTACULAR_SETTINGS = {
    "TITLE": "Run Monitor admin API",
    "DESCRIPTION": "Watch and steer the dataset-acquisition pipeline.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "dataplatform.api.schema.require_request_bodies",
    ],
    "ENUM_NAME_OVERRIDES": {
        "RunStatusEnum": "dataplatform.api.fields.RUN_STATUSES",
        "FileStatusEnum": "dataplatform.api.fields.FILE_STATUSES",
        "EnvironmentEnum": "dataplatform.api.fields.ENVIRONMENTS",
        "AlertKindEnum": "dataplatform.api.fields.ALERT_KINDS",
        "AlertStateEnum": "dataplatform.api.fields.ALERT_STATES",
        "ExpectationStateEnum": "dataplatform.api.fields.EXPECTATION_STATES",
        "ChannelKindEnum": "dataplatform.api.fields.CHANNEL_KINDS",
    },
}

# Email for notification channels of kind "email" and their test messages: Django's backend,
# SMTP from the environment (the Lambda's SmtpSender reads the same names). No EMAIL_HOST = no email.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "").strip() or "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = os.environ.get("EMAIL_HOST", "").strip()
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", default=False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive; set one.")
try:
    _email_port_default = 465 if EMAIL_USE_SSL else 587 if EMAIL_USE_TLS else 25
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "").strip() or _email_port_default)
    EMAIL_TIMEOUT = float(os.environ.get("EMAIL_TIMEOUT", "").strip() or 10)
except ValueError as exc:
    raise ImproperlyConfigured(f"EMAIL_PORT and EMAIL_TIMEOUT must be numbers: {exc}") from exc
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "").strip()
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "").strip() or "run-monitor@localhost"
SERVER_EMAIL = DEFAULT_FROM_EMAIL

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
# JSON lines (one object per line, request id, no secrets) by default; "plain" for a terminal.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "").strip().lower() or "json"
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'json' or 'plain', got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "dataplatform.web.middleware.RequestIdFilter"}},
    "formatters": {
        "plain": {"()": "dataplatform.web.logs.PlainFormatter"},
        "json": {"()": "dataplatform.web.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "botocore": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        # The access log already has one line per request; django.server would repeat it.
        "django.server": {"level": "WARNING"},
        "dataplatform.access": {"level": os.environ.get("ACCESS_LOG_LEVEL", "INFO").strip().upper() or "INFO"},
    },
}

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True

if PRODUCTION:
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 50 random characters in production.")
    if not os.environ.get("DJANGO_ALLOWED_HOSTS", "").strip():
        raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must list the public host names in production.")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^health/"]
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000") or 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
