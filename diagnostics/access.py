"""Who may do what: the one place that defines ThyroWeb's roles.

Roles are cumulative: a data manager can do everything a clinician can, and
an admin (group ``admin`` or superuser) everything a data manager can. Pages
use :func:`role_required`, the API uses :class:`HasRole`; both read
:func:`has_role`.
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

CLINICIAN = "clinician"
DATA_MANAGER = "data_manager"
ADMIN = "admin"
ROLES = (CLINICIAN, DATA_MANAGER, ADMIN)
_RANK = {role: rank for rank, role in enumerate(ROLES)}


def user_role(user) -> str | None:
    """The highest role a user holds, or None for a user without a role."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return ADMIN
    cached = getattr(user, "_thyroweb_role", False)
    if cached is not False:
        return cached
    names = set(user.groups.values_list("name", flat=True))
    role = max((r for r in ROLES if r in names), key=_RANK.__getitem__, default=None)
    user._thyroweb_role = role
    return role


def known_user(user):
    """The user to record as the author of a row (who entered a panel, started a job...): None for no user
    or an anonymous one (a scheduled task, a test client without login)."""
    return user if user is not None and user.is_authenticated else None


def has_role(user, role: str) -> bool:
    held = user_role(user)
    return held is not None and _RANK[held] >= _RANK[role]


def role_required(role: str):
    """Decorate a page view: anonymous users go to login, users without the role get 403."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not has_role(request.user, role):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        checked = login_required(wrapped)
        checked.required_role = role
        return checked

    return decorator


# Declared instead of a role by the few routes open to anyone (health checks for load balancers).
PUBLIC = "public"


def public_route(view):
    """Mark a page view as open without login (the route walker checks it reveals only what it should)."""
    view.required_role = PUBLIC
    return view


def roles_context(request) -> dict:
    """Template context: which role the current user holds."""
    user = getattr(request, "user", None)
    if user is None:
        return {}
    return {
        "user_role": user_role(user),
        "is_clinician": has_role(user, CLINICIAN),
        "is_data_manager": has_role(user, DATA_MANAGER),
        "is_admin": has_role(user, ADMIN),
    }


try:  # DRF is installed in every mode; kept apart so this module imports cheaply.
    from rest_framework.permissions import BasePermission
except ImportError:  # pragma: no cover
    BasePermission = object


class HasRole(BasePermission):
    """DRF permission: set ``required_role`` on the view (default clinician)."""

    def has_permission(self, request, view) -> bool:
        return has_role(request.user, getattr(view, "required_role", CLINICIAN))


def require_role(user, role: str) -> None:
    """Raise PermissionDenied unless the user holds the role (for services)."""
    if not has_role(user, role):
        raise PermissionDenied
