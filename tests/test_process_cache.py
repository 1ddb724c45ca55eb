"""Per-process caches of API tokens and the active model: changes apply at once here, within the TTL elsewhere."""

import time

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from diagnostics.access import CLINICIAN
from diagnostics.models import ModelVersion
from diagnostics.services.registry import SHIPPED, activate_model_version, serving_model_version
from tests.api_builders import api, token_client

pytestmark = pytest.mark.django_db
PANEL = {"age": 61, "sex": "F", "TSH": 45.0, "T3": 0.9, "TT4": 40.0, "T4U": 0.95, "FTI": 42.0}


def other_process_sql(sql: str, params=()) -> None:
    """A change as another process makes it: straight SQL, no Django signal in this process."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_a_repeated_prediction_call_makes_no_database_query(clinician, active_version, django_assert_num_queries):
    machine = token_client(clinician)
    assert api(machine, "post", "/api/v1/predict", PANEL).status_code == 200
    with django_assert_num_queries(0):
        answer = api(machine, "post", "/api/v1/predict", PANEL)
    assert answer.status_code == 200 and answer.json()["model_version"] == active_version.version


def test_revoking_a_token_or_deactivating_a_user_applies_to_the_next_call(clinician, data_manager):
    for user, change in ((clinician, "revoke"), (data_manager, "deactivate")):
        machine = token_client(user)
        assert machine.get("/api/v1/patients/").status_code == 200
        if change == "revoke":
            user.auth_token.delete()
        else:
            user.is_active = False
            user.save()
        assert machine.get("/api/v1/patients/").status_code == 401


def test_losing_a_role_applies_to_the_next_call(clinician):
    machine = token_client(clinician)
    assert machine.get("/api/v1/patients/").status_code == 200
    clinician.groups.remove(Group.objects.get(name=CLINICIAN))
    assert machine.get("/api/v1/patients/").status_code == 403


@pytest.mark.parametrize("seconds", [1, 0])
def test_a_token_deleted_by_another_process_works_until_the_cache_expires(settings, clinician, seconds):
    settings.THYROWEB_PROCESS_CACHE_SECONDS = seconds  # 0: no cache, every call looks the token up
    machine = token_client(clinician)
    assert machine.get("/api/v1/patients/").status_code == 200
    other_process_sql("DELETE FROM authtoken_token WHERE user_id = %s", [clinician.pk])
    if seconds:
        assert machine.get("/api/v1/patients/").status_code == 200  # still cached here
        time.sleep(seconds + 0.1)
    assert machine.get("/api/v1/patients/").status_code == 401


def test_activating_a_version_here_serves_it_at_once(clinician, data_manager, active_version):
    machine = token_client(clinician)
    assert api(machine, "post", "/api/v1/predict", PANEL).json()["model_version"] == active_version.version
    newer = ModelVersion.objects.create(version="cache-test-v2", artefact_path=active_version.artefact_path)
    activate_model_version(version=newer, user=data_manager, override_reason="cache test")
    assert api(machine, "post", "/api/v1/predict", PANEL).json()["model_version"] == "cache-test-v2"


def test_a_version_activated_by_another_process_is_served_once_the_cache_expires(settings, active_version):
    settings.THYROWEB_PROCESS_CACHE_SECONDS = 1
    newer = ModelVersion.objects.create(version="cache-test-v3", artefact_path=SHIPPED)
    assert serving_model_version().pk == active_version.pk
    other_process_sql("UPDATE diagnostics_modelversion SET status = 'retired' WHERE id = %s", [active_version.pk])
    other_process_sql("UPDATE diagnostics_modelversion SET status = 'active' WHERE id = %s", [newer.pk])
    assert serving_model_version().pk == active_version.pk  # this process has not looked again yet
    time.sleep(1.1)
    assert serving_model_version().pk == newer.pk


def test_a_value_read_before_a_change_is_not_kept_after_it():
    from diagnostics.process_cache import ExpiringCache

    cache = ExpiringCache("test")

    def read_then_changed_meanwhile():
        cache.clear()  # the change lands (signal) while this thread was reading the old state
        return "old"

    assert cache.get("key", read_then_changed_meanwhile) == "old"
    assert cache.get("key", lambda: "new") == "new"
