"""Settings shared by every run mode.

Unset variables mean the embedded default: SQLite under ``var/``, the in-memory channel
layer and Celery on the in-process ``memory://`` broker (worker and beat run as threads of
the portal process, see ``federations.management.commands.run_portal``). Setting
``DATABASE_URL`` and ``REDIS_URL`` switches to PostgreSQL and Redis with separate worker
and beat processes.
"""

from pathlib import Path
from urllib.parse import urlsplit

from whitenoise.compress import Compressor

from .env import database_from_url, env_bool, env_int, env_list, env_networks, env_str

BASE_DIR = Path(__file__).resolve().parents[2]
# Local state of the embedded mode (SQLite file, collected static files, beat schedule).
VAR_DIR = Path(env_str("F2F_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = env_str("DJANGO_SECRET_KEY", default="f2f-local-only-not-a-secret")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "channels",
    "federations",
    "indexer",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "f2f_site.urls"
ASGI_APPLICATION = "f2f_site.asgi.application"

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

DATABASE_URL = env_str("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'f2f.sqlite3'}")
DATABASES = {"default": database_from_url(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Front-end libraries come from npm (package.json) and are served by whitenoise, never a CDN.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/bootstrap", BASE_DIR / "node_modules" / "bootstrap" / "dist"),
    ("vendor/chart.js", BASE_DIR / "node_modules" / "chart.js" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Source maps (two thirds of the vendored bytes) are fetched only by browsers' developer tools:
# compressing them was two thirds of every collectstatic, so of the portal's first start.
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = [*Compressor.SKIP_COMPRESS_EXTENSIONS, "map"]
MEDIA_ROOT = VAR_DIR / "media"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Redis, when set, carries both the Channels layer and the Celery broker. The layer is Redis
# pub/sub: each portal process receives a group's message once, with no capacity to overflow
# (the core layer drops messages to a full channel in silence); what it can still lose, during a
# Redis restart, federations.live detects and repairs from the database.
REDIS_URL = env_str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # Pub/sub channels are shared by every database of a Redis server: the prefix names the database,
            # so that two portals on one server (or the tests beside a bench) never hear each other.
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env_str(
                "F2F_CHANNEL_PREFIX", default=f"f2f.db{urlsplit(REDIS_URL).path.strip('/') or '0'}")},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://localhost/"  # named: without a host kombu warns at every start

# The default cache keeps what pages may show a minute late (catalog totals) in each process, so that
# pages never depend on Redis; the rate limits of reports and submissions count in "limits", shared by
# every portal process through Redis when there is one.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # What federation pages read that seldom changes, for seconds, in each process (f2f_site.memo).
    "memo": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "memo",
             "OPTIONS": {"MAX_ENTRIES": 20_000}},
    # A Redis that does not answer fails the count in a second (then nothing is refused), not a request's worth.
    "limits": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "f2f-limits",
               "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}} if REDIS_URL else
              {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}
RATELIMIT_USE_CACHE = "limits"
RATELIMIT_FAIL_OPEN = True  # a count the cache could not keep refuses nothing (f2f_site.limits.over_hourly_limit)

# True when no broker process exists: the portal process runs the Celery worker and beat.
F2F_EMBEDDED_WORKERS = CELERY_BROKER_URL.startswith("memory://")

CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = TIME_ZONE

# Heartbeat: how often beat sweeps, and the silence a server is allowed before it is offline
# (this floor, or ten times its average round duration when that is longer).
F2F_HEARTBEAT_INTERVAL = env_int("F2F_HEARTBEAT_INTERVAL", 300, minimum=1)
F2F_OFFLINE_AFTER = env_int("F2F_OFFLINE_AFTER", 900, minimum=1)
# Client.py validation: limits of the analysing child process, and when a validation that
# has not finished counts as lost (its message is then queued again).
F2F_VALIDATION_CPU_SECONDS = env_int("F2F_VALIDATION_CPU_SECONDS", 5, minimum=1)
F2F_VALIDATION_MEMORY_BYTES = env_int("F2F_VALIDATION_MEMORY_BYTES", 512 * 1024 * 1024, minimum=64 * 1024 * 1024)
F2F_VALIDATION_STALL_SECONDS = env_int("F2F_VALIDATION_STALL_SECONDS", 300, minimum=10)

CELERY_BEAT_SCHEDULE = {
    "heartbeat-sweep": {
        "task": "federations.tasks.sweep_silent_federations",
        "schedule": float(F2F_HEARTBEAT_INTERVAL),
    },
    "requeue-stalled-validations": {
        "task": "indexer.tasks.requeue_stalled_candidacies",
        "schedule": float(F2F_VALIDATION_STALL_SECONDS),
    },
}
# A message taken by a worker that dies comes back after this long (Redis broker).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600}

# The reporting ingest (federations.ingest). Events: at most F2F_INGEST_EVENTS of one federation
# in any F2F_INGEST_EVENTS_SECONDS (20 a second on average, bursts of 60). Connections: at most
# F2F_INGEST_AUTH_FAILURES failed attempts from one client address in any
# F2F_INGEST_AUTH_FAILURES_SECONDS, after which that address is refused until the window clears.
# Counted in Redis when there is one, so every portal process shares the counts.
F2F_INGEST_EVENTS = env_int("F2F_INGEST_EVENTS", 60, minimum=1)
F2F_INGEST_EVENTS_SECONDS = env_int("F2F_INGEST_EVENTS_SECONDS", 3, minimum=1)
F2F_INGEST_AUTH_FAILURES = env_int("F2F_INGEST_AUTH_FAILURES", 10, minimum=1)
F2F_INGEST_AUTH_FAILURES_SECONDS = env_int("F2F_INGEST_AUTH_FAILURES_SECONDS", 60, minimum=1)
# Proxies (addresses or networks) whose X-Forwarded-For the ingest believes when it names a
# client. None by default: the connecting peer is the client, and the header, which anyone can
# send, is ignored.
F2F_TRUSTED_PROXIES = env_networks("F2F_TRUSTED_PROXIES", [])
# Fault reports (reports/): one client address may file F2F_REPORTS_PER_HOUR reports and
# F2F_SUBMISSIONS_PER_HOUR Be a Server submissions an hour (the next ones get HTTP 429); reports from
# F2F_REVIEW_REPORTERS distinct addresses within F2F_REVIEW_WINDOW_HOURS put a federation under review
# until an operator clears it.
F2F_REPORTS_PER_HOUR = env_int("F2F_REPORTS_PER_HOUR", 5, minimum=1)
F2F_SUBMISSIONS_PER_HOUR = env_int("F2F_SUBMISSIONS_PER_HOUR", 5, minimum=1)
F2F_REVIEW_REPORTERS = env_int("F2F_REVIEW_REPORTERS", 3, minimum=2)
F2F_REVIEW_WINDOW_HOURS = env_int("F2F_REVIEW_WINDOW_HOURS", 24, minimum=1)
# What is kept of each federation's training: its latest F2F_RUNS_KEPT runs and, of each, the
# latest F2F_ROUNDS_KEPT rounds. Older ones are deleted as newer ones are stored.
F2F_RUNS_KEPT = env_int("F2F_RUNS_KEPT", 10, minimum=1)
F2F_ROUNDS_KEPT = env_int("F2F_ROUNDS_KEPT", 1000, minimum=1)

# Where the portal listens when started by ``manage.py run_portal`` (8000 is a Flower SuperLink's).
F2F_HOST = env_str("F2F_HOST", default="127.0.0.1")
F2F_PORT = env_int("F2F_PORT", 8321, minimum=1)

# Largest Client.py the portal stores or serves, and largest request body it reads at all
# (checked by daphne while it reads, on every path; also the WebSocket message limit: f2f_site.limits).
F2F_CLIENT_FILE_MAX_BYTES = env_int("F2F_CLIENT_FILE_MAX_BYTES", 256 * 1024, minimum=1024)
F2F_MAX_REQUEST_BYTES = env_int("F2F_MAX_REQUEST_BYTES", 1024 * 1024, minimum=64 * 1024)
# Uploads under this stay in memory: with the request cap below it, nothing is spooled to disk.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * F2F_MAX_REQUEST_BYTES
DATA_UPLOAD_MAX_MEMORY_SIZE = F2F_MAX_REQUEST_BYTES

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("F2F_LOG_LEVEL", default="INFO")},
    "loggers": {"daphne": {"level": "WARNING"}, "django.channels.server": {"level": "WARNING"}},
}
