"""ThyroWeb settings, read from environment variables only.

With no variables set, ThyroWeb runs on the embedded default: a SQLite file
under ``THYROWEB_HOME`` and Celery tasks run eagerly in-process; ``make start`` sets
``THYROWEB_EMBEDDED_BROKER=1`` so that tasks queue as files under ``THYROWEB_HOME/broker`` for a
worker started beside the web server (thyroweb/launch.py). Production
sets ``DATABASE_URL`` (PostgreSQL), ``CELERY_BROKER_URL`` (Redis) and
``SECRET_KEY``.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from mlcore.units import parse_site_units
from thyroweb import home

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    """Read a yes/no variable; fail loudly on anything else."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None


def env_float(name: str, default: float, low: float, high: float) -> float:
    """Read a number between low and high; fail loudly on anything else."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number") from None
    if not low <= value <= high:
        raise ImproperlyConfigured(f"{name}={raw!r} is outside {low}-{high}")
    return value


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Where the embedded default keeps its database, media and generated secret (thyroweb/home.py creates it
# when a process starts: importing these settings creates and writes nothing).
THYROWEB_HOME = home.home_dir()

# Debug pages leak data: off unless asked for.
DEBUG = env_bool("DEBUG", False)

# Database: DATABASE_URL (postgres://user@host:port/name or sqlite:///path),
# else a SQLite file under THYROWEB_HOME.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    # Connections are kept 60 s and checked before reuse, so the first requests after a database restart
    # open fresh connections instead of failing on stale ones.
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": THYROWEB_HOME / "db.sqlite3",
            "OPTIONS": {"timeout": 20},
        }
    }
USING_POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")


def _secret_key() -> str:
    """SECRET_KEY from the environment; the embedded default reads the one kept under THYROWEB_HOME (written
    once by thyroweb.home.prepare_home when a process starts), or, before any was written (settings read by
    a tool), a key for this process only."""
    key = os.environ.get("SECRET_KEY", "")
    if key:
        return key
    if USING_POSTGRES and not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DATABASE_URL points to PostgreSQL")
    return home.read_secret_key() or secrets.token_urlsafe(50)


SECRET_KEY = _secret_key()

# Host names this server answers to.
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_results",
    "django_celery_beat",
    "axes",
    "diagnostics",
]

MIDDLEWARE = [
    "diagnostics.middleware.RequestIdMiddleware",
    "diagnostics.middleware.InvalidPathMiddleware",
    "diagnostics.middleware.RequestSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "diagnostics.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "thyroweb.urls"
WSGI_APPLICATION = "thyroweb.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "diagnostics.access.roles_context",
            ],
        },
    },
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Sessions end after this many seconds of inactivity (default 8 hours) and with the browser.
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True

# HTTPS hardening: on by default whenever debug is off; SECURE_SSL_REDIRECT=false
# for a plain-HTTP embedded install on loopback.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", SECURE_SSL_REDIRECT)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", SECURE_SSL_REDIRECT)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if SECURE_SSL_REDIRECT else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_HTTPS_PROXY", False) else None
# Health checks answer load balancers and compose over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Login protection (django-axes): lock an account+address after repeated failures.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # no banner from every process at start-up
# The tried user name, cleaned so that a 10,000-character or NUL-laden name cannot make a login fail with a 500.
AXES_USERNAME_CALLABLE = "diagnostics.login_protection.axes_username"
# Failed logins from one address, across user names, within AXES_COOLOFF_TIME: past this many, any user
# name is locked for that address (guessing one password over many accounts).
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 20)
AXES_HANDLER = "diagnostics.login_protection.AddressLimitHandler"
# A login refused by a lock answers as locked out (429) and does not push the lock further.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Proxies in front of gunicorn that append the client's address to X-Forwarded-For (1 with the nginx of
# docker-compose): login limits and the audit trail then see the client, not the proxy.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "diagnostics.login_protection.client_address"
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"  # styled and translated, with the navigation

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Europe/Paris")
USE_I18N = True
USE_TZ = True
# Dates and times per language, 24-hour (thyroweb/formats/<language>/formats.py).
FORMAT_MODULE_PATH = ["thyroweb.formats"]

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", THYROWEB_HOME / "media"))
MEDIA_URL = "media/"
# Uploads, batch-job working files, results and trained models are kept in the database, so any web or
# worker process sees them; THYROWEB_FILE_STORAGE names another Django storage class (e.g. django-storages'
# "storages.backends.s3.S3Storage", configured by its own AWS_* variables). MEDIA_ROOT is only a local cache.
STORAGES = {
    "default": {"BACKEND": os.environ.get("THYROWEB_FILE_STORAGE", "diagnostics.storage.DatabaseStorage")},
    "staticfiles": {
        "BACKEND": os.environ.get("STATICFILES_BACKEND", "whitenoise.storage.CompressedManifestStaticFilesStorage")
    },
}

# Uploads (batch scoring files): refuse bodies larger than this many bytes.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 20 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
THYROWEB_MAX_UPLOAD_BYTES = env_int("THYROWEB_MAX_UPLOAD_BYTES", 50 * 1024 * 1024)
# Batch scoring stores panels and predictions this many rows per transaction (one progress step each).
THYROWEB_SCORING_CHUNK_ROWS = env_int("THYROWEB_SCORING_CHUNK_ROWS", 5000)
# API tokens and the active model version are looked up once per process for this many seconds
# (diagnostics/process_cache.py): a revoked token or a new active model applies everywhere within it.
THYROWEB_PROCESS_CACHE_SECONDS = env_int("THYROWEB_PROCESS_CACHE_SECONDS", 5)


def env_site_units(name: str, default: str) -> dict[str, str]:
    """Read FIELD=unit pairs (mlcore.units.parse_site_units); fail loudly on a field or unit it does not know."""
    raw = os.environ.get(name, default)
    try:
        return parse_site_units(raw)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name}={raw!r}: {error}") from None


# The unit the lab entry form offers first for each test, as this site's laboratories report it
# ("TSH=uIU/mL,TT4=ug/dL,FT4=ng/dL,FT3=pg/mL" for a US lab); a test not named: ThyroWeb's unit.
# Default: the French convention, TSH in mU/L and free hormones in pmol/L.
THYROWEB_DEFAULT_UNITS = env_site_units("THYROWEB_DEFAULT_UNITS", "TSH=mU/L,FT4=pmol/L,FT3=pmol/L")

# Folder holding thyroid0387*.data (CI sets it; see the README); `fetch_uci` downloads into it.
THYROWEB_DATA_DIR = Path(os.environ.get("THYROWEB_DATA_DIR", THYROWEB_HOME / "data")).resolve()

# Review worklist and monitoring.
# Share of `normal` assessed predictions sampled into the review worklist (deterministic per panel), 0-1.
THYROWEB_REVIEW_SAMPLE_RATE = env_float("THYROWEB_REVIEW_SAMPLE_RATE", 0.05, 0.0, 1.0)
# Promotion also compares models on recent reviewed panels neither trained on, when at least this many exist.
THYROWEB_REVIEW_MIN_COMPARISON = env_int("THYROWEB_REVIEW_MIN_COMPARISON", 30)
# ... reviewed within this many days.
THYROWEB_REVIEW_COMPARISON_DAYS = env_int("THYROWEB_REVIEW_COMPARISON_DAYS", 365)
# Monitoring: a lab drifts when its population stability index reaches this (0.25: the usual "major shift")
# over at least THYROWEB_MONITORING_MIN_VALUES measured values in the latest period.
THYROWEB_MONITORING_PSI_ALERT = env_float("THYROWEB_MONITORING_PSI_ALERT", 0.25, 0.0, 100.0)
THYROWEB_MONITORING_MIN_VALUES = env_int("THYROWEB_MONITORING_MIN_VALUES", 50)
# Agreement alert: macro-F1 against clinicians' reviews below this, over at least ..._MIN_REVIEWS reviews.
THYROWEB_MONITORING_MIN_MACRO_F1 = env_float("THYROWEB_MONITORING_MIN_MACRO_F1", 0.8, 0.0, 1.0)
THYROWEB_MONITORING_MIN_REVIEWS = env_int("THYROWEB_MONITORING_MIN_REVIEWS", 30)
# How many weeks or months the monitoring page covers.
THYROWEB_MONITORING_PERIODS = env_int("THYROWEB_MONITORING_PERIODS", 12)

# Celery: Redis broker in production. With no CELERY_BROKER_URL, THYROWEB_EMBEDDED_BROKER (set by `make start`)
# queues tasks as files under THYROWEB_HOME/broker (kombu's filesystem transport: no server) for the worker
# and beat that thyroweb/launch.py starts beside gunicorn; without it (tests, manage.py commands) tasks run
# eagerly in-process.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
THYROWEB_EMBEDDED_BROKER = not CELERY_BROKER_URL and env_bool("THYROWEB_EMBEDDED_BROKER", False)
EMBEDDED_BROKER_DIR = home.broker_dir()
if THYROWEB_EMBEDDED_BROKER:
    CELERY_BROKER_URL = "filesystem://localhost//"
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
# Job tasks keep their state on their own row (TrainingRun, ScoringJob) and store no Celery result: a
# result write during a database outage would otherwise stop the worker. Tasks that do store one
# (health_check) retry the write while the database is unreachable (thyroweb/celery_backend.py).
CELERY_RESULT_BACKEND = "thyroweb.celery_backend:RetryingDatabaseBackend"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND_ALWAYS_RETRY = True
CELERY_RESULT_BACKEND_MAX_RETRIES = env_int("CELERY_RESULT_BACKEND_MAX_RETRIES", 30)
CELERY_RESULT_BACKEND_MAX_SLEEP_BETWEEN_RETRIES_MS = 10_000
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Workers log through LOGGING below (JSON lines, tagged with the task id) instead of Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A message not acknowledged this many seconds after delivery (its worker died) goes back to the queue;
# keep it above the longest task. A dead worker's job does not wait for it: the healer queues it again
# once its heartbeat is stale (below), and the old message, delivered later, finds the job taken.
# CELERY_UNACKED_RESTORE_SECONDS: how often workers look for such messages (kombu's default sweep is
# about 100 s; tests set a few seconds).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
if os.environ.get("CELERY_UNACKED_RESTORE_SECONDS"):
    CELERY_BROKER_TRANSPORT_OPTIONS.update(
        unacked_restore_interval=env_int("CELERY_UNACKED_RESTORE_SECONDS", 10), unacked_restore_throttle=1
    )
if THYROWEB_EMBEDDED_BROKER:
    # One folder holds the queues (every process reads and writes it), one the fan-out tables (worker pings);
    # thyroweb/launch.py creates them (thyroweb.home.prepare_home) before it starts the processes.
    CELERY_BROKER_TRANSPORT_OPTIONS.update(
        data_folder_in=str(EMBEDDED_BROKER_DIR / "queue"),
        data_folder_out=str(EMBEDDED_BROKER_DIR / "queue"),
        control_folder=str(EMBEDDED_BROKER_DIR / "control"),
    )
CELERY_TIMEZONE = TIME_ZONE

# Shared cache (API throttling, token and active-model lookups, login limits) in Redis, so that limits hold
# across processes and machines: CACHE_URL, else REDIS_URL, else the Redis broker. Without any, each
# process keeps its own cache in memory (the embedded default).
CACHE_URL = os.environ.get("CACHE_URL") or os.environ.get("REDIS_URL") or ""
if not CACHE_URL and CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CACHE_URL = CELERY_BROKER_URL
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "thyroweb"),  # several installs can share a Redis
            # A Redis that does not answer fails fast (callers fall back: see diagnostics/process_cache.py).
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SHARED_CACHE = bool(CACHE_URL)
# Jobs that heal (diagnostics/services/jobs.py): a running job beats every THYROWEB_JOB_HEARTBEAT_SECONDS;
# the healer (the "Heal lost jobs" beat schedule, every THYROWEB_JOB_HEAL_SECONDS) queues again a running
# job silent for THYROWEB_JOB_STALE_SECONDS, and a queued job whose task the broker no longer holds after
# THYROWEB_JOB_QUEUED_GRACE_SECONDS; a job started THYROWEB_JOB_MAX_ATTEMPTS times without finishing fails.
THYROWEB_JOB_HEARTBEAT_SECONDS = env_int("THYROWEB_JOB_HEARTBEAT_SECONDS", 15)
THYROWEB_JOB_STALE_SECONDS = env_int("THYROWEB_JOB_STALE_SECONDS", 60)
THYROWEB_JOB_HEAL_SECONDS = env_int("THYROWEB_JOB_HEAL_SECONDS", 30)
THYROWEB_JOB_QUEUED_GRACE_SECONDS = env_int("THYROWEB_JOB_QUEUED_GRACE_SECONDS", 60)
THYROWEB_JOB_MAX_ATTEMPTS = env_int("THYROWEB_JOB_MAX_ATTEMPTS", 3)
if not 0 < THYROWEB_JOB_HEARTBEAT_SECONDS < THYROWEB_JOB_STALE_SECONDS:
    raise ImproperlyConfigured("THYROWEB_JOB_HEARTBEAT_SECONDS must be above 0 and below THYROWEB_JOB_STALE_SECONDS")
if THYROWEB_JOB_HEAL_SECONDS < 1 or THYROWEB_JOB_MAX_ATTEMPTS < 1:
    raise ImproperlyConfigured("THYROWEB_JOB_HEAL_SECONDS and THYROWEB_JOB_MAX_ATTEMPTS must be at least 1")

REST_FRAMEWORK = {
    # Token first: an anonymous API call gets 401 with a WWW-Authenticate header.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "diagnostics.api.authentication.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Every endpoint needs a login and the role its view declares (required_role).
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated", "diagnostics.access.HasRole"],
    "DEFAULT_SCHEMA_CLASS": "diagnostics.api.schema.ThyroWebAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "diagnostics.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": ["diagnostics.api.throttling.PerUserThrottle"],
    # Requests per user (API_THROTTLE_RATE, e.g. "100000/hour"; raise it for load tests).
    "DEFAULT_THROTTLE_RATES": {"user": os.environ.get("API_THROTTLE_RATE", "30000/hour")},
    "EXCEPTION_HANDLER": "diagnostics.api.errors.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ThyroWeb API",
    "DESCRIPTION": "Thyroid function tests, predictions and model management. A decision aid, not a diagnosis.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Schema and docs need a login like every endpoint; Swagger UI is served locally (no CDN).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated", "diagnostics.access.HasRole"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "diagnostics.models.JobStatus",
        "ModelVersionStatusEnum": "diagnostics.models.ModelVersion.Status",
        "PatientSexEnum": "diagnostics.models.SEX_CHOICES",
        "SexEnum": "mlcore.schema.SEXES",
        "ThyroidClassEnum": "mlcore.schema.CLASSES",
        "OutcomeEnum": "mlcore.rules.OUTCOMES",
        "ReasonCodeEnum": "diagnostics.api.panel_serializers.REASON_CODES",
        "ConditionCodeEnum": "mlcore.conditions.CONDITION_CODES",
    },
}

# Structured logs: one JSON object per line with the request id (LOG_FORMAT=text for plain lines).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} must be json or text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "diagnostics.logs.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "diagnostics.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # WeasyPrint logs every layout step and its font subsetting (fontTools) every table at INFO: none is needed.
    "loggers": {
        "django.request": {"level": "ERROR"},
        "fontTools": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
    },
}
