"""The audit trail: append-only, logins recorded, searchable and exportable by admins only."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from diagnostics.csv_safety import safe_cell
from diagnostics.models import AppendOnlyError, AuditEvent, LabPanel, Patient
from diagnostics.services.audit import record_event
from diagnostics.services.patients import delete_patient
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def login(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(body)))


# Append-only ---------------------------------------------------------------


def test_an_audit_event_cannot_be_changed_or_deleted_one_by_one(clinician):
    event = record_event(action="panel.create", actor=clinician, object_type="labpanel", object_id="1")
    event.action = "nothing.happened"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "panel.create"


def test_audit_events_cannot_be_changed_or_deleted_in_bulk(clinician):
    event = record_event(action="panel.create", actor=clinician)
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="nothing.happened")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.bulk_update([event], ["action"])
    assert AuditEvent.objects.filter(action="panel.create").count() == 1


def test_deleting_a_user_keeps_their_audit_events_under_their_name(django_user_model):
    user = django_user_model.objects.create_user(username="leaver", password=PASSWORD)
    record_event(action="panel.create", actor=user)
    user.delete()
    event = AuditEvent.objects.get(action="panel.create")
    assert event.actor_id is None
    assert event.actor_username == "leaver"


def test_the_admin_site_offers_no_way_to_change_the_audit_trail(client_for, admin_user):
    event = record_event(action="panel.create", actor=admin_user)
    client = client_for(admin_user)
    assert client.get(reverse("admin:diagnostics_auditevent_add")).status_code == 403
    assert (
        client.post(reverse("admin:diagnostics_auditevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    )
    client.post(reverse("admin:diagnostics_auditevent_change", args=[event.pk]), {"action": "x"})
    assert AuditEvent.objects.get(pk=event.pk).action == "panel.create"


# Logins ----------------------------------------------------------------------


def test_a_successful_login_is_audited_with_actor_and_address(client, clinician):
    response = login(client, "clin", PASSWORD)
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="auth.login")
    assert event.actor == clinician
    assert event.ip_address == "127.0.0.1"


def test_a_failed_login_is_audited_with_the_name_tried_and_never_the_password(client, clinician):
    response = login(client, "clin", "wrong-password-xyz")
    assert response.status_code == 200
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.actor is None
    assert event.actor_username == "clin"
    assert event.ip_address == "127.0.0.1"
    assert "wrong-password-xyz" not in str(event.details)


def test_logout_is_audited(client, clinician):
    login(client, "clin", PASSWORD)
    client.post(reverse("logout"))
    assert AuditEvent.objects.filter(action="auth.logout", actor=clinician).count() == 1


# Soft delete -------------------------------------------------------------------


def test_deleting_a_patient_hides_it_keeps_the_row_and_audits(data_manager):
    patient = Patient.objects.create(record_number="MRN-DEL-1")
    record_event(action="patient.view", actor=data_manager, obj=patient)
    delete_patient(patient=patient, user=data_manager)
    assert not Patient.objects.visible().filter(pk=patient.pk).exists()
    assert Patient.objects.get(pk=patient.pk).deleted_at is not None
    actions = set(
        AuditEvent.objects.filter(object_type="patient", object_id=str(patient.pk)).values_list("action", flat=True)
    )
    assert actions == {"patient.view", "patient.delete"}


def test_deleting_a_patient_twice_records_one_deletion(data_manager):
    patient = Patient.objects.create(record_number="MRN-DEL-2")
    delete_patient(patient=patient, user=data_manager)
    first = Patient.objects.get(pk=patient.pk).deleted_at
    delete_patient(patient=patient, user=data_manager)
    assert Patient.objects.get(pk=patient.pk).deleted_at == first
    assert AuditEvent.objects.filter(action="patient.delete").count() == 1


def test_a_clinician_cannot_delete_a_patient(clinician):
    from django.core.exceptions import PermissionDenied

    patient = Patient.objects.create(record_number="MRN-DEL-3")
    with pytest.raises(PermissionDenied):
        delete_patient(patient=patient, user=clinician)
    assert Patient.objects.visible().filter(pk=patient.pk).exists()
    assert not AuditEvent.objects.filter(action="patient.delete").exists()


# Audit trail page and API --------------------------------------------------------


@pytest.fixture
def trail(clinician, data_manager):
    """Three events on different days, actors and objects."""
    now = timezone.now()
    AuditEvent.objects.create(
        actor=clinician,
        actor_username="clin",
        action="panel.create",
        object_type="labpanel",
        object_id="11",
        created_at=now - timedelta(days=10),
    )
    AuditEvent.objects.create(
        actor=data_manager,
        actor_username="dm",
        action="data.import_uci",
        object_type="labpanel",
        created_at=now - timedelta(days=1),
    )
    AuditEvent.objects.create(
        actor_username="mallory",
        action="auth.login_failed",
        ip_address="10.0.0.9",
        details={"note": "=cmd|' /C calc'!A0"},
        created_at=now,
    )
    return now


def test_admins_search_the_audit_trail_page_by_actor_action_object_and_date(client_for, admin_user, trail):
    client = client_for(admin_user)
    url = reverse("audit")
    assert "<td>panel.create</td>" in client.get(url, {"actor": "CLIN"}).content.decode()
    assert "<td>data.import_uci</td>" not in client.get(url, {"actor": "clin"}).content.decode()
    by_action = client.get(url, {"action": "auth."}).content.decode()
    assert "<td>mallory</td>" in by_action and "<td>panel.create</td>" not in by_action
    assert "<td>clin</td>" in client.get(url, {"object_type": "labpanel", "object_id": "11"}).content.decode()
    recent = client.get(url, {"date_from": (trail - timedelta(days=2)).date().isoformat()}).content.decode()
    assert "<td>data.import_uci</td>" in recent and "<td>panel.create</td>" not in recent


def test_the_audit_page_names_a_bad_date_range(client_for, admin_user):
    response = client_for(admin_user).get(reverse("audit"), {"date_from": "2026-02-01", "date_to": "2026-01-01"})
    assert response.status_code == 200
    assert "end date is before the start date" in response.content.decode()
    response = client_for(admin_user).get(reverse("audit"), {"date_from": "not-a-date"})
    assert "Enter a valid date" in response.content.decode()


def test_the_audit_csv_export_neutralises_formula_cells_and_is_itself_audited(client_for, admin_user, trail):
    response = client_for(admin_user).get(reverse("audit_export"), {"action": "auth.login_f"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    header, *rows = csv_rows(response)
    assert header[:3] == ["time", "actor", "action"]
    assert len(rows) == 1
    assert rows[0][1] == "mallory"
    assert rows[0][6] == "note==cmd|' /C calc'!A0"  # starts with a letter: harmless as it is
    assert AuditEvent.objects.filter(action="audit.export", actor=admin_user).count() == 1


@pytest.mark.parametrize("cell", ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "＝1"])
def test_a_csv_cell_that_would_start_a_formula_gets_an_apostrophe(cell):
    assert safe_cell(cell) == "'" + cell


@pytest.mark.parametrize("value", ["normal", "UCI-840801013", 4.5, -1.0, None, ""])
def test_ordinary_csv_cells_are_left_alone(value):
    assert safe_cell(value) == value


def test_an_actor_name_that_is_a_formula_is_neutralised_in_the_export(client_for, admin_user):
    AuditEvent.objects.create(actor_username='=HYPERLINK("http://x")', action="auth.login_failed")
    _, row = csv_rows(client_for(admin_user).get(reverse("audit_export"), {"action": "auth.login_failed"}))
    assert row[1] == '\'=HYPERLINK("http://x")'


def test_the_audit_api_searches_and_paginates(client_for, admin_user, trail):
    client = client_for(admin_user)
    body = client.get(reverse("api-audit"), {"action": "auth.login_f"}).json()
    assert body["count"] == 1
    event = body["results"][0]
    assert event["actor_username"] == "mallory"
    assert event["ip_address"] == "10.0.0.9"
    assert client.get(reverse("api-audit"), {"actor": "dm"}).json()["count"] == 1


def test_the_audit_api_refuses_a_bad_date_with_the_field_named(client_for, admin_user):
    response = client_for(admin_user).get(reverse("api-audit"), {"date_to": "yesterday"})
    assert response.status_code == 400
    assert "date_to" in response.json()["errors"]


def test_the_audit_api_exports_csv(client_for, admin_user, trail):
    response = client_for(admin_user).get(reverse("api-audit-export"), HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    header, *rows = csv_rows(response)
    assert {"panel.create", "data.import_uci", "auth.login_failed"} <= {row[2] for row in rows}


@pytest.mark.parametrize("name", ["audit", "audit_export", "api-audit", "api-audit-export"])
def test_only_admins_see_the_audit_trail(client, client_for, data_manager, name):
    anonymous = client.get(reverse(name))
    assert anonymous.status_code in (302, 401, 403)
    if anonymous.status_code == 302:
        assert reverse("login") in anonymous["Location"]
    assert client_for(data_manager).get(reverse(name)).status_code == 403


def test_deactivated_users_lose_access(client_for, admin_user):
    get_user_model().objects.filter(pk=admin_user.pk).update(is_active=False)
    admin_user.refresh_from_db()
    assert client_for(admin_user).get(reverse("audit")).status_code in (302, 403)


# Every sensitive action leaves an event ------------------------------------------------------


def actions_for(obj) -> list[str]:
    return list(
        AuditEvent.objects.filter(object_type=obj._meta.model_name, object_id=str(obj.pk)).values_list(
            "action", flat=True
        )
    )


def test_viewing_a_patient_on_the_page_the_api_and_the_admin_is_audited(client_for, admin_user):
    patient = Patient.objects.create(record_number="MRN-VIEW-1")
    client = client_for(admin_user)
    assert client.get(reverse("patient_detail", args=[patient.pk])).status_code == 200
    assert client.get(reverse("api-patient", args=[patient.pk])).status_code == 200
    assert client.get(reverse("admin:diagnostics_patient_change", args=[patient.pk])).status_code == 200
    views = AuditEvent.objects.filter(action="patient.view", object_id=str(patient.pk))
    assert views.count() == 3
    assert {event.actor for event in views} == {admin_user}
    assert all(event.ip_address == "127.0.0.1" for event in views)


def test_creating_a_panel_and_importing_records_are_audited(clinician, data_manager, tmp_path):
    from diagnostics.services.intake import record_panel
    from diagnostics.services.uci_import import import_uci
    from mlcore.intake import take_panel

    patient = Patient.objects.create(record_number="MRN-PANEL-1")
    panel, prediction = record_panel(
        patient=patient, panel=take_panel({"age": 40, "TSH": 2.0}).panel, source=LabPanel.Source.FORM, user=clinician
    )
    assert actions_for(panel) == ["panel.create"]
    assert actions_for(prediction) == ["prediction.create"]
    path = tmp_path / "two.data"
    path.write_text(
        "29,F,f,f,f,f,f,f,f,t,f,f,f,f,f,f,t,0.3,f,?,f,?,f,?,f,?,f,?,other,-[840801013]\n"
        "28,F,f,f,f,f,f,f,f,f,f,f,f,f,f,f,t,0.7,t,2.6,t,116,f,?,f,?,f,?,SVI,-[840807019]\n"
    )
    import_uci(path, user=data_manager)
    event = AuditEvent.objects.get(action="data.import_uci")
    assert event.actor == data_manager and event.details["created_panels"] == 2
    assert "840801013" not in str(event.details)


def test_admin_changes_are_audited_with_field_names_but_no_values(client_for, admin_user):
    patient = Patient.objects.create(record_number="MRN-ADMIN-1")
    panel = LabPanel.objects.create(patient=patient, age=50, TSH=2.0)
    client = client_for(admin_user)
    url = reverse("admin:diagnostics_labpanel_change", args=[panel.pk])
    form = {
        field: getattr(panel, field) if getattr(panel, field) is not None else ""
        for field in (
            "age",
            "TSH",
            "T3",
            "TT4",
            "T4U",
            "FTI",
            "TBG",
            "referral_source",
            "source",
            "source_ref",
            "diagnosis_raw",
            "diagnosis_class",
        )
    }
    form.update({"patient": patient.pk, "collected_at_0": "2026-01-05", "collected_at_1": "10:00:00", "TSH": "7.25"})
    response = client.post(url, form)
    assert response.status_code == 302, response.content[:2000]
    event = AuditEvent.objects.get(action="labpanel.change")
    assert event.details["via"] == "admin" and "TSH" in event.details["fields"]
    assert "7.25" not in str(event.details)


def test_deleting_a_patient_in_the_admin_is_a_soft_delete(client_for, admin_user):
    patient = Patient.objects.create(record_number="MRN-ADMIN-DEL")
    client = client_for(admin_user)
    response = client.post(reverse("admin:diagnostics_patient_delete", args=[patient.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert Patient.objects.get(pk=patient.pk).deleted_at is not None
    assert "patient.delete" in actions_for(patient)
