"""The audit trail: one call records who did what to which record, when and from where."""

from diagnostics.login_protection import client_address
from diagnostics.models import AuditEvent


def client_ip(request) -> str | None:
    """The client's address (REMOTE_ADDR, or X-Forwarded-For behind TRUSTED_PROXY_COUNT proxies)."""
    if request is None:
        return None
    return client_address(request)


def record_event(
    *,
    action: str,
    actor=None,
    request=None,
    obj=None,
    object_type: str = "",
    object_id: str = "",
    actor_username: str = "",
    **details,
) -> AuditEvent:
    """Append an audit event. ``details`` must hold no patient-identifying data beyond ids."""
    if actor is None and request is not None:
        actor = getattr(request, "user", None)
    if actor is not None and not actor.is_authenticated:
        actor = None
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_id = object_id or str(obj.pk)
    return AuditEvent.objects.create(
        actor=actor,
        # Without an actor (a failed login), the name that was tried.
        actor_username=actor.get_username() if actor is not None else actor_username,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        ip_address=client_ip(request),
        details=details,
    )
