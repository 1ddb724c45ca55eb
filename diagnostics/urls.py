from django.urls import path

from diagnostics.views import dashboard

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
]
