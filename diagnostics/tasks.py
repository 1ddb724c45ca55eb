"""Celery tasks: take ids, call a service, record status on a row."""

import socket

from celery import shared_task
from django.db import connection


@shared_task(name="diagnostics.health_check")
def health_check() -> dict:
    """Prove a worker is alive and reaches the database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        (one,) = cursor.fetchone()
    return {"worker": socket.gethostname(), "database": one == 1, "vendor": connection.vendor}
