"""The test suite. PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set (CI), else embedded."""

from .base import *  # noqa: F403
from .base import CACHES as BASE_CACHES
from .base import DATABASES, REDIS_URL, VAR_DIR
from .env import env_int

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Pages are rendered without running collectstatic first.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# A file, not memory, so that processes started by the tests (daphne, Celery) share it.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-f2f.sqlite3")}
# Every test sees the database as it is, not a list cached by an earlier test. The rate limits count where
# production counts them (Redis in the services mode, so that portal processes started by a test share the
# counts), under their own prefix, which each test starts with empty (conftest).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    "memo": BASE_CACHES["memo"],  # its forgetting is part of what is tested (conftest clears it between tests)
    "limits": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
               "KEY_PREFIX": "f2f-test-limits"} if REDIS_URL else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}
# Every test connects from 127.0.0.1 and, in the services mode, counts in one Redis: the failed
# connections of one test must not lock the next ones out. The limit's own tests set it low.
F2F_INGEST_AUTH_FAILURES = env_int("F2F_INGEST_AUTH_FAILURES", 1000, minimum=1)
