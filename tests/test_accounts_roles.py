"""Accounts and roles: login required everywhere, roles cumulative, demo users with fresh passwords."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client

from diagnostics.access import ADMIN, CLINICIAN, DATA_MANAGER, has_role, user_role

pytestmark = pytest.mark.django_db


def test_role_groups_exist_after_migrations():
    assert set(Group.objects.values_list("name", flat=True)) >= {CLINICIAN, DATA_MANAGER, ADMIN}


def test_roles_are_cumulative(clinician, data_manager, admin_user, no_role_user):
    assert (user_role(clinician), user_role(data_manager), user_role(admin_user), user_role(no_role_user)) == (
        CLINICIAN,
        DATA_MANAGER,
        ADMIN,
        None,
    )
    assert has_role(data_manager, CLINICIAN) and not has_role(clinician, DATA_MANAGER)
    assert has_role(admin_user, DATA_MANAGER) and not has_role(no_role_user, CLINICIAN)


def test_dashboard_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_dashboard_refuses_a_user_without_a_role(client_for, no_role_user):
    assert client_for(no_role_user).get("/").status_code == 403


def test_dashboard_opens_for_a_clinician(client_for, clinician):
    assert client_for(clinician).get("/").status_code == 200


def test_login_with_the_form_then_logout():
    user = get_user_model().objects.create_user("nurse", password="a-long-enough-password-1")
    user.groups.add(Group.objects.get(name=CLINICIAN))
    browser = Client()
    response = browser.post("/accounts/login/", {"username": "nurse", "password": "a-long-enough-password-1"})
    assert response.status_code == 302
    assert browser.get("/").status_code == 200
    browser.post("/accounts/logout/")
    assert browser.get("/").status_code == 302


def test_admin_panel_refuses_a_clinician(client_for, clinician):
    response = client_for(clinician).get("/admin/diagnostics/patient/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_admin_panel_lists_patients_for_an_admin(client_for, admin_user):
    assert client_for(admin_user).get("/admin/diagnostics/patient/?q=UCI").status_code == 200


def test_demo_users_are_created_once_and_keep_their_passwords(capsys, settings, tmp_path):
    settings.THYROWEB_HOME = tmp_path
    call_command("create_demo_users")
    first = capsys.readouterr().out
    shown = re.findall(r"password (\S+)", first)
    assert len(shown) == 3 and shown[2] == "(in"  # the admin's password is not printed
    kept = (tmp_path / "demo-users.txt").read_text()
    assert (tmp_path / "demo-users.txt").stat().st_mode & 0o077 == 0
    admin_password = re.search(r"demo_admin\s+password (\S+)", kept).group(1)

    call_command("create_demo_users")
    assert "kept with their passwords" in capsys.readouterr().out
    User = get_user_model()
    clinician = User.objects.get(username="demo_clinician")
    assert user_role(clinician) == CLINICIAN and clinician.check_password(shown[0])
    admin = User.objects.get(username="demo_admin")
    assert user_role(admin) == ADMIN and admin.check_password(admin_password)


def test_demo_passwords_are_reset_on_request(capsys, settings, tmp_path):
    settings.THYROWEB_HOME = tmp_path
    call_command("create_demo_users")
    before = re.findall(r"password (\S+)", capsys.readouterr().out)
    call_command("create_demo_users", "--reset")
    after = re.findall(r"password (\S+)", capsys.readouterr().out)
    assert set(before[:2]).isdisjoint(after[:2])
    assert get_user_model().objects.get(username="demo_clinician").check_password(after[0])
    assert f"password {after[1]}" in (tmp_path / "demo-users.txt").read_text()
