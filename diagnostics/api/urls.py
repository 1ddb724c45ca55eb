from django.urls import include, path

from diagnostics.api import audit

urlpatterns: list = [
    path("audit/", include(audit.urlpatterns)),
]
