"""Audit of logins (success, failure, logout, lockout) from Django's and django-axes' signals; task ids in logs;
the per-process caches emptied when what they hold changes."""

from axes.signals import user_locked_out
from celery.signals import task_postrun, task_prerun
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from rest_framework.authtoken.models import Token

from diagnostics import process_cache
from diagnostics.login_protection import storable_username
from diagnostics.logs import current_request_id
from diagnostics.models import ModelVersion
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


def _forget(cache: process_cache.ExpiringCache) -> None:
    """Empty the cache now and again at commit (a request in between may have cached the old state)."""
    cache.clear()
    transaction.on_commit(cache.clear)


def forget_tokens(**kwargs) -> None:
    _forget(process_cache.tokens)


def forget_active_version(**kwargs) -> None:
    _forget(process_cache.active_version)


for _model in (Token, get_user_model(), Group):
    post_save.connect(forget_tokens, sender=_model, dispatch_uid=f"thyroweb_tokens_save_{_model.__name__}")
    post_delete.connect(forget_tokens, sender=_model, dispatch_uid=f"thyroweb_tokens_delete_{_model.__name__}")
m2m_changed.connect(forget_tokens, sender=get_user_model().groups.through, dispatch_uid="thyroweb_tokens_groups")
post_save.connect(forget_active_version, sender=ModelVersion, dispatch_uid="thyroweb_active_version_save")
post_delete.connect(forget_active_version, sender=ModelVersion, dispatch_uid="thyroweb_active_version_delete")
