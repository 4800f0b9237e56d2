#!/bin/sh
# The web process: migrations, then daphne serving HTTP, browser WebSockets and the Socket.IO ingest
# (run_portal: the same server as everywhere else, with request bodies capped while they are read).
# No --proxy-headers: daphne would believe the leftmost X-Forwarded-For, which a client can write itself;
# behind a proxy, name it in F2F_TRUSTED_PROXIES and the ingest's per-address limits use what it forwards.
set -e
python manage.py migrate --noinput
exec python manage.py run_portal --host 0.0.0.0 --port 8321 --access-log
