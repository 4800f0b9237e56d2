"""The Celery application: settings prefixed CELERY_ in Django settings, tasks found per app."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "f2f_site.settings.local")

app = Celery("f2f_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
