"""Production: every secret from the environment, no defaults, HTTPS assumed behind a proxy."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .env import database_from_url, env_bool, env_int, env_str

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# Browsers keep to HTTPS for a year, subdomains included, and the site may be submitted to
# the browsers' preload list (sending the header submits nothing by itself). A deployment that
# serves some subdomain over plain HTTP must turn the last two off.
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 365 * 24 * 3600, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)

# Production never runs on the embedded default.
DATABASES = {"default": database_from_url(env_str("DATABASE_URL"))}
if not env_str("REDIS_URL"):
    raise ImproperlyConfigured("REDIS_URL is required in production.")
