#!/bin/sh
# The Celery worker: Client.py validation and other background tasks.
set -e
exec celery -A f2f_site worker --loglevel INFO --concurrency "${F2F_WORKER_CONCURRENCY:-2}"
