"""Admin integrity: model status only through the promotion rule, never no active model by accident, and a
scored panel keeps the values it was scored on."""

import json

import pytest
from django.urls import reverse

from diagnostics.models import AuditEvent, LabPanel, ModelVersion, Prediction
from diagnostics.services.registry import ensure_default_model_version
from tests.api_builders import make_panel, make_patient, make_prediction, make_version, token_client
from tests.test_pages_lab_entry import form_data

pytestmark = pytest.mark.django_db


def admin_action(client, action: str, versions) -> list[str]:
    """Run a model-version admin action; the messages shown after it."""
    response = client.post(
        reverse("admin:diagnostics_modelversion_changelist"),
        {"action": action, "_selected_action": [v.pk for v in versions]},
        follow=True,
    )
    assert response.status_code == 200
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def admin_client(client_for, admin_user):
    return client_for(admin_user)


def test_the_status_is_read_only_in_the_admin(admin_client):
    version = make_version("admin-candidate")
    page = admin_client.get(reverse("admin:diagnostics_modelversion_change", args=[version.pk]))
    assert page.status_code == 200
    assert 'name="status"' not in page.content.decode()


def test_activating_in_the_admin_goes_through_the_promotion_rule(admin_client):
    active = make_version("admin-active", status=ModelVersion.Status.ACTIVE)
    candidate = make_version("admin-candidate")
    shown = admin_action(admin_client, "activate", [candidate])
    assert any("override reason" in message for message in shown)  # no held-out data to compare on
    assert ModelVersion.objects.get(pk=active.pk).status == ModelVersion.Status.ACTIVE
    assert ModelVersion.objects.get(pk=candidate.pk).status == ModelVersion.Status.CANDIDATE


def test_activating_in_the_admin_when_no_model_is_active_succeeds_and_is_audited(admin_client):
    ensure_default_model_version()
    ModelVersion.objects.update(status=ModelVersion.Status.RETIRED)
    candidate = make_version("admin-candidate")
    shown = admin_action(admin_client, "activate", [candidate])
    assert shown == ["admin-candidate is now the active model."]
    assert ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE).pk == candidate.pk
    assert AuditEvent.objects.filter(action="model.activate", object_id=str(candidate.pk)).exists()


def test_the_active_model_cannot_be_retired_or_deleted_without_activating_another(admin_client):
    active = make_version("admin-active", status=ModelVersion.Status.ACTIVE)
    candidate = make_version("admin-candidate")
    shown = admin_action(admin_client, "retire", [active, candidate])
    assert "admin-active is the active model: activate another version first (this one is then retired)." in shown
    assert "admin-candidate is retired." in shown
    assert ModelVersion.objects.get(pk=active.pk).status == ModelVersion.Status.ACTIVE
    assert ModelVersion.objects.get(pk=candidate.pk).status == ModelVersion.Status.RETIRED
    delete_page = admin_client.get(reverse("admin:diagnostics_modelversion_delete", args=[active.pk]))
    assert delete_page.status_code == 403


@pytest.fixture
def no_active_model():
    ensure_default_model_version()  # the shipped model is registered, so it is not made active again
    ModelVersion.objects.update(status=ModelVersion.Status.RETIRED)


def test_with_no_active_model_the_lab_entry_page_says_whom_to_ask(client_for, clinician, no_active_model):
    response = client_for(clinician).post(reverse("panel_create"), form_data(new_patient="on"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "No model is active, so nothing can be scored: ask a data manager" in page
    assert "please correct the fields marked below" not in page
    assert not LabPanel.objects.exists()


def test_with_no_active_model_the_api_answers_503_saying_whom_to_ask(clinician, no_active_model):
    body = {"age": 61, "sex": "F", "TSH": 45.0}
    response = token_client(clinician).post("/api/v1/predict", json.dumps(body), content_type="application/json")
    assert response.status_code == 503
    assert "ask a data manager" in response.json()["errors"]["detail"][0]


def panel_change_data(panel: LabPanel, **values) -> dict:
    local = panel.collected_at.astimezone()
    data = {
        "patient": panel.patient_id,
        "collected_at_0": local.strftime("%Y-%m-%d"),
        "collected_at_1": local.strftime("%H:%M:%S"),
        "source": panel.source,
        "source_ref": "",
        "diagnosis_raw": "",
        "diagnosis_class": "",
        "referral_source": panel.referral_source,
        "age": panel.age,
        **{name: getattr(panel, name) if getattr(panel, name) is not None else "" for name in ("T3", "TT4", "T4U")},
        "FTI": panel.FTI,
        "TBG": "",
        "TSH": panel.TSH,
    }
    data.update(values)
    return data


def test_a_scored_panel_keeps_its_values_in_the_admin_and_its_page_says_so(admin_client, client_for, clinician):
    panel = make_panel(make_patient(), TSH=1.3)
    make_prediction(panel, make_version("admin-active", status=ModelVersion.Status.ACTIVE))
    url = reverse("admin:diagnostics_labpanel_change", args=[panel.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="TSH"' not in page and "enter a new panel" in page
    admin_client.post(url, panel_change_data(panel, TSH="45"))
    assert LabPanel.objects.get(pk=panel.pk).TSH == 1.3
    assert Prediction.objects.filter(panel=panel).count() == 1
    detail = client_for(clinician).get(reverse("panel_detail", args=[panel.pk])).content.decode()
    assert "they cannot be changed. To correct a value, enter a new panel." in detail


def test_a_panel_not_yet_scored_can_still_be_corrected_in_the_admin(admin_client):
    panel = make_panel(make_patient(), TSH=1.3)
    response = admin_client.post(
        reverse("admin:diagnostics_labpanel_change", args=[panel.pk]), panel_change_data(panel, TSH="4.5")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert LabPanel.objects.get(pk=panel.pk).TSH == 4.5
