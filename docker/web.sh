#!/bin/sh
# The web process: migrations, then daphne serving HTTP, browser WebSockets and the Socket.IO ingest.
set -e
python manage.py migrate --noinput
exec daphne --bind 0.0.0.0 --port 8321 --proxy-headers f2f_site.asgi:application
