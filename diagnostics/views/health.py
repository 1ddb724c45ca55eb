"""Health checks for load balancers and compose: open without login, revealing nothing but each check's result."""

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from diagnostics.access import public_route
from diagnostics.services.health import readiness


@public_route
@never_cache
@require_GET
def healthz(request):
    """The process is alive and answers (no database, no broker)."""
    return JsonResponse({"status": "ok"})


@public_route
@never_cache
@require_GET
def readyz(request):
    """200 when the database, the broker (when configured) and the active model are usable, else 503."""
    checks = readiness()
    body = {name: "ok" if passed else "failed" for name, passed in checks.items()}
    return JsonResponse(body, status=200 if all(checks.values()) else 503)
