"""The Celery application: Redis broker in production, eager in-process tasks by default."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "thyroweb.settings")

app = Celery("thyroweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
