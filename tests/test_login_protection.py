"""Login protection: lockout, strong passwords, session expiry, CSRF, HTTPS settings and `check --deploy`."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from diagnostics.models import AuditEvent
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parent.parent


def attempt(client, username, password, address="10.1.1.1"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


# Lockout (django-axes) ---------------------------------------------------------------


@pytest.mark.django_db
def test_an_account_is_locked_after_repeated_failures_even_with_the_right_password(client, clinician):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(client, "clin", "not-the-password").status_code == 200
    assert attempt(client, "clin", "not-the-password").status_code == 429
    locked = attempt(client, "clin", PASSWORD)
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="auth.lockout", actor_username="clin").exists()
    assert AuditEvent.objects.filter(action="auth.login_failed").count() >= settings.AXES_FAILURE_LIMIT


@pytest.mark.django_db
def test_a_lockout_does_not_lock_out_another_user_or_address(client, clinician, data_manager):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, "clin", "not-the-password")
    assert attempt(Client(), "dm", PASSWORD).status_code == 302
    assert attempt(Client(), "clin", PASSWORD, address="10.2.2.2").status_code == 302


@pytest.mark.django_db
def test_many_user_names_from_one_address_lock_that_address_for_every_name(client, clinician, settings):
    """One password tried over 30 user names from one address: past LOGIN_ADDRESS_FAILURE_LIMIT failures
    the address is locked for any name, even a real user with the right password; other addresses are not."""
    codes = [attempt(client, f"user-{number}", "Summer2026!").status_code for number in range(30)]
    limit = settings.LOGIN_ADDRESS_FAILURE_LIMIT
    assert codes == [200] * limit + [429] * (30 - limit)  # 200: the form again, with its error
    assert attempt(Client(), "clin", PASSWORD).status_code == 429
    assert attempt(Client(), "clin", PASSWORD, address="10.3.3.3").status_code == 302


@pytest.mark.django_db
def test_behind_a_trusted_proxy_the_limit_counts_the_forwarded_client_address(client, clinician, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "172.20.0.5"}
    for number in range(settings.LOGIN_ADDRESS_FAILURE_LIMIT):
        forwarded = {"HTTP_X_FORWARDED_FOR": "203.0.113.9"}
        client.post(reverse("login"), {"username": f"user-{number}", "password": "x"}, **proxy, **forwarded)
    refused = client.post(reverse("login"), {"username": "clin", "password": PASSWORD}, **proxy,
                          HTTP_X_FORWARDED_FOR="203.0.113.9")  # fmt: skip
    assert refused.status_code == 429
    # Another client behind the same proxy, even one claiming the locked address further left, logs in.
    other = Client().post(reverse("login"), {"username": "clin", "password": PASSWORD}, **proxy,
                          HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.7")  # fmt: skip
    assert other.status_code == 302


@pytest.mark.django_db
def test_a_success_before_the_limit_resets_the_failure_count(client, clinician):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, "clin", "not-the-password")
    assert attempt(client, "clin", PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, "clin", "not-the-password")
    assert attempt(client, "clin", PASSWORD).status_code == 302


# Passwords and sessions ------------------------------------------------------------------


@pytest.mark.parametrize(
    "password, problem",
    [
        ("short1!", "too short"),
        ("password1234", "too common"),
        ("349857209384752", "entirely numeric"),
        ("clinician-clinician", "too similar"),
    ],
)
def test_weak_passwords_are_refused(django_user_model, password, problem):
    user = django_user_model(username="clinician-clinician", email="clinician@example.org")
    with pytest.raises(ValidationError) as refused:
        validate_password(password, user)
    assert problem in " ".join(refused.value.messages)


def test_a_long_uncommon_password_is_accepted(django_user_model):
    validate_password("thyroid-panel-orchid-7391", django_user_model(username="someone"))


def test_sessions_expire_and_their_cookie_is_out_of_reach_of_scripts():
    assert 0 < settings.SESSION_COOKIE_AGE <= 12 * 3600
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
    assert settings.SESSION_SAVE_EVERY_REQUEST  # the expiry counts from the last request: inactivity
    assert settings.SESSION_COOKIE_HTTPONLY


@pytest.mark.django_db
def test_logging_in_gives_a_new_session_key(client, clinician):
    client.get(reverse("login"))
    client.cookies[settings.SESSION_COOKIE_NAME] = "attacker-chosen-session-key"
    attempt(client, "clin", PASSWORD)
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != "attacker-chosen-session-key"


# CSRF -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_login_form_refuses_a_post_without_csrf_token(clinician):
    client = Client(enforce_csrf_checks=True)
    assert attempt(client, "clin", PASSWORD).status_code == 403


@pytest.mark.django_db
def test_a_browser_session_cannot_post_to_the_api_without_csrf_token(clinician):
    client = Client(enforce_csrf_checks=True)
    client.force_login(clinician)
    response = client.post(reverse("api-predict"), {"TSH": 2.0}, content_type="application/json")
    assert response.status_code == 403


@pytest.mark.django_db
def test_a_page_form_refuses_a_post_without_csrf_token(data_manager):
    client = Client(enforce_csrf_checks=True)
    client.force_login(data_manager)
    assert client.post(reverse("panel_create"), {}).status_code == 403


# Production settings ----------------------------------------------------------------------------


def production_env(tmp_path, **overrides) -> dict:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "THYROWEB_HOME": str(tmp_path / "home"),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "SECURE_SSL_REDIRECT": "true",
        "ALLOWED_HOSTS": "thyroweb.example.org",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    env.update(overrides)
    return {key: value for key, value in env.items() if value is not None}


def check_deploy(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_check_deploy_is_clean_in_production_settings(tmp_path):
    result = check_deploy(production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.slow
def test_check_deploy_catches_a_production_server_without_https(tmp_path):
    result = check_deploy(production_env(tmp_path, SECURE_SSL_REDIRECT=None))
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr + result.stdout


@pytest.mark.slow
def test_production_settings_send_hsts_secure_cookies_and_redirect_to_https(tmp_path):
    probe = (
        "from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_HSTS_SECONDS >= 31536000, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.DEBUG)"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", probe],
        cwd=ROOT,
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip().splitlines()[-1].split() == ["True", "True", "True", "True", "True", "False"]


@pytest.mark.django_db
def test_the_admin_login_is_locked_out_like_the_main_login(client, admin_user):
    url = reverse("admin:login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(url, {"username": admin_user.username, "password": "not-the-password"})
    response = client.post(url, {"username": admin_user.username, "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_an_idle_session_expires(client, clinician):
    from datetime import timedelta

    from django.contrib.sessions.models import Session
    from django.utils import timezone

    assert attempt(client, "clin", PASSWORD).status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    idle = timezone.now() - timedelta(seconds=1)  # as if SESSION_COOKIE_AGE had passed since the last request
    Session.objects.filter(session_key=key).update(expire_date=idle)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302 and reverse("login") in response["Location"]
