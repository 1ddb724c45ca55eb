"""The Celery result backend: django-celery-results, retrying a write while the database is unreachable.

django-celery-results retries only an InterfaceError; a refused connection (OperationalError) raised from a
result write outside the task body stops the whole worker process, so it is retried here too (a few
minutes at most: CELERY_RESULT_BACKEND_MAX_RETRIES, up to 10 s apart).
"""

from django.db import InterfaceError, OperationalError, connection
from django_celery_results.backends.database import DatabaseBackend


class RetryingDatabaseBackend(DatabaseBackend):
    def exception_safe_to_retry(self, exc: Exception) -> bool:
        if isinstance(exc, (OperationalError, InterfaceError)):
            connection.close()  # the next try opens a new connection
            return True
        return super().exception_safe_to_retry(exc)
