"""Login protection: the user name and address that django-axes and the audit trail record for an attempt,
and a limit on failed logins per address across user names."""

import ipaddress

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum

USERNAME_MAX = 150  # the longest user name Django's user model holds


def storable_username(raw) -> str | None:
    """A tried user name as the database can store it: no NUL bytes, valid UTF-8, at most 150 characters."""
    if raw is None:
        return None
    text = str(raw).replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return text[:USERNAME_MAX]


def axes_username(request, credentials: dict | None = None) -> str | None:
    """AXES_USERNAME_CALLABLE: a 10,000-character or NUL-laden user name must not make a login a 500."""
    if credentials:
        return storable_username(credentials.get("username"))
    data = getattr(request, "data", None) or getattr(request, "POST", {})
    return storable_username(data.get("username"))


def client_address(request) -> str | None:
    """The client's address: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies the X-Forwarded-For entry
    the outermost trusted proxy appended (entries further left are the client's own claims)."""
    remote = request.META.get("REMOTE_ADDR") or None
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < count:
        return remote
    try:
        return str(ipaddress.ip_address(forwarded[-count]))
    except ValueError:
        return remote


def address_failures(request) -> int:
    """Failed logins from the request's address within the cool-off time, whatever the user names."""
    address = getattr(request, "axes_ip_address", None) or client_address(request)
    if address is None:
        return 0
    attempts = AccessAttempt.objects.filter(ip_address=address, attempt_time__gte=get_cool_off_threshold(request))
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0


class AddressLimitHandler(AxesDatabaseHandler):
    """django-axes' lock of a user name + address, plus a lock of the address for every user name after
    LOGIN_ADDRESS_FAILURE_LIMIT failures from it (one password tried over many accounts)."""

    def is_locked(self, request, credentials: dict | None = None) -> bool:
        if super().is_locked(request, credentials):
            return True
        return address_failures(request) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT
