#!/bin/sh
# Celery beat: the periodic tasks (the heartbeat sweep).
set -e
exec celery -A f2f_site beat --loglevel INFO --schedule /var/lib/f2f/celerybeat-schedule
