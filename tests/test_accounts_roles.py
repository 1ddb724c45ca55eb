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


def test_demo_users_get_a_fresh_random_password_each_time(capsys):
    call_command("create_demo_users")
    first = capsys.readouterr().out
    call_command("create_demo_users")
    second = capsys.readouterr().out
    passwords = re.findall(r"password (\S+)", first)
    assert len(passwords) == 3 and set(passwords).isdisjoint(re.findall(r"password (\S+)", second))
    clinician = get_user_model().objects.get(username="demo_clinician")
    assert user_role(clinician) == CLINICIAN
    assert clinician.check_password(re.findall(r"password (\S+)", second)[0])
    assert user_role(get_user_model().objects.get(username="demo_admin")) == ADMIN
