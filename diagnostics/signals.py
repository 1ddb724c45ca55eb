"""Audit of logins (success, failure, logout, lockout) from Django's and django-axes' signals; task ids in logs."""

from axes.signals import user_locked_out
from celery.signals import task_postrun, task_prerun
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from diagnostics.login_protection import storable_username
from diagnostics.logs import current_request_id
from diagnostics.services.audit import record_event


@receiver(user_logged_in, dispatch_uid="thyroweb_audit_login")
def audit_login(sender, request, user, **kwargs) -> None:
    record_event(action="auth.login", actor=user, request=request)


@receiver(user_logged_out, dispatch_uid="thyroweb_audit_logout")
def audit_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        record_event(action="auth.logout", actor=user, request=request)


@receiver(user_login_failed, dispatch_uid="thyroweb_audit_login_failed")
def audit_login_failed(sender, credentials, request=None, **kwargs) -> None:
    # The attempted user name is kept (a security officer needs it); the password never reaches here.
    username = storable_username(credentials.get("username")) or ""
    record_event(action="auth.login_failed", actor_username=username, request=request)


@receiver(user_locked_out, dispatch_uid="thyroweb_audit_lockout")
def audit_lockout(sender, request, username=None, ip_address=None, **kwargs) -> None:
    record_event(action="auth.lockout", actor_username=storable_username(username) or "", request=request)


_task_tokens: dict = {}


@task_prerun.connect(dispatch_uid="thyroweb_log_task_id")
def tag_logs_with_task(task_id=None, **kwargs) -> None:
    """A Celery task's log lines carry ``task-<id>`` where a request's carry its request id."""
    _task_tokens[task_id] = current_request_id.set(f"task-{task_id}")


@task_postrun.connect(dispatch_uid="thyroweb_log_task_id_end")
def untag_logs(task_id=None, **kwargs) -> None:
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        current_request_id.reset(token)  # an eager task inside a request gives the request its id back
