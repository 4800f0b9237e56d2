#!/bin/sh
# The web process: migrations, then daphne serving HTTP, browser WebSockets and the Socket.IO ingest
# (run_portal: the same server as everywhere else, with request bodies capped while they are read).
set -e
python manage.py migrate --noinput
exec python manage.py run_portal --host 0.0.0.0 --port 8321 --proxy-headers --access-log
