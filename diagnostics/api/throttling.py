"""Per-user request throttling for the API, counted in the shared cache (Redis when configured)."""

import logging

from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle

logger = logging.getLogger(__name__)


class PerUserThrottle(UserRateThrottle):
    """UserRateThrottle reading its rate when asked, so a settings change applies without a restart; with
    Redis the count holds across every gunicorn process. A cache that does not answer lets the request
    through (and logs it) rather than failing every API call."""

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception as error:  # noqa: BLE001 (Redis down)
            logger.warning("throttle not applied, shared cache unreachable: %s", error.__class__.__name__)
            return True
