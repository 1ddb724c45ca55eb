"""The patient report: a PDF (WeasyPrint) read back with pdftotext, in English and French; audited; clinicians only."""

import shutil
import subprocess
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from diagnostics.models import AuditEvent, Prediction
from tests.page_builders import make_panel, make_patient, make_version

pytestmark = pytest.mark.django_db

COLLECTED = datetime(2026, 1, 5, 9, 30, tzinfo=ZoneInfo("Europe/Paris"))


def pdf_text(pdf: bytes, tmp_path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext is missing: apt-get install poppler-utils")
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def reported(clinician):
    """A patient with two panels; the latest is a referral with a reason and a warning."""
    version = make_version("report-v1")
    patient = make_patient("UCI-840801013", sex="F")
    earlier = make_panel(patient, collected_at=COLLECTED - timedelta(days=90), TSH=3.1, TT4=90.0)
    Prediction.objects.create(
        panel=earlier,
        model_version=version,
        predicted_class="normal",
        p_normal=0.9,
        p_hyperthyroid=0.05,
        p_hypothyroid=0.05,
    )
    panel = make_panel(patient, collected_at=COLLECTED, TSH=45.5, TT4=40.0, FTI=42.0, T3=0.9, T4U=0.95)
    panel.created_by = clinician
    panel.save()
    Prediction.objects.create(
        panel=panel,
        model_version=version,
        outcome="refer",
        predicted_class="hypothyroid",
        p_normal=0.1,
        p_hyperthyroid=0.02,
        p_hypothyroid=0.88,
        uncertain=True,
        requested_by=clinician,
        reasons=[{"code": "context_not_covered", "params": {"context": "pregnant"}}],
        warnings=[{"code": "fti_inconsistent", "params": {"FTI": 42, "expected": 42.1}}],
    )
    return {"patient": patient, "panel": panel, "version": version}


def test_the_report_of_a_panel_is_a_pdf_with_patient_values_outcome_and_change_in_english(
    client_for, clinician, reported, tmp_path
):
    response = client_for(clinician).get(reverse("panel_report", args=[reported["panel"].pk]), {"language": "en"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    assert response.content.startswith(b"%PDF-")
    text = pdf_text(response.content, tmp_path)
    assert "Thyroid function report" in text
    assert "UCI-840801013" in text
    assert "2026-01-05 09:30" in text  # collection date, 24-hour
    assert "clin" in text  # requesting user
    assert "45.5" in text and "mU/L" in text and "0.27–4.2" in text and "high" in text and "low" in text
    assert "Refer: hypothyroid (probability 88 %)" in text
    assert "Pregnancy: TSH and thyroxine" in text and "FTI 42 differs from" in text  # reasons and warnings, worded
    assert "Change since the previous panel" in text and "+42.4" in text  # TSH 3.1 -> 45.5
    assert "report-v1" in text
    assert "newest first (at most 8)" in text
    assert "decision aid for clinicians, not a diagnosis" in text


def test_the_report_is_in_french_with_french_dates_and_decimals(client_for, clinician, reported, tmp_path):
    response = client_for(clinician).get(reverse("panel_report", args=[reported["panel"].pk]), {"language": "fr"})
    text = pdf_text(response.content, tmp_path)
    assert "Compte rendu" in text
    assert "UCI-840801013" in text
    assert "05/01/2026 09:30" in text
    assert "45,5" in text and "0,27–4,2" in text and "élevé" in text
    assert "À adresser : hypothyroïdie (probabilité 88 %)" in text
    assert "Grossesse" in text  # the reason, worded in French
    assert "aide à la décision" in text


def test_the_patient_report_is_the_latest_panel_and_is_audited(client_for, clinician, reported, tmp_path):
    client = client_for(clinician)
    response = client.get(reverse("patient_report", args=[reported["patient"].pk]))
    assert "45.5" in pdf_text(response.content, tmp_path)
    event = AuditEvent.objects.filter(action="report.download").get()
    assert event.actor == clinician and event.object_id == str(reported["patient"].pk)
    assert event.details == {"panel_id": reported["panel"].pk, "language": "en"}


def test_a_patient_without_panels_has_no_report(client_for, clinician):
    patient = make_patient("MRN-EMPTY")
    assert client_for(clinician).get(reverse("patient_report", args=[patient.pk])).status_code == 404


def test_the_report_is_for_clinicians_only(client, client_for, no_role_user, reported):
    url = reverse("panel_report", args=[reported["panel"].pk])
    assert client.get(url).status_code == 302
    assert client_for(no_role_user).get(url).status_code == 403
    assert not AuditEvent.objects.filter(action="report.download").exists()


def test_result_and_patient_pages_link_to_the_report(client_for, clinician, reported):
    client = client_for(clinician)
    panel_html = client.get(reverse("panel_detail", args=[reported["panel"].pk])).content.decode()
    assert reverse("panel_report", args=[reported["panel"].pk]) + "?language=fr" in panel_html
    patient_html = client.get(reverse("patient_detail", args=[reported["patient"].pk])).content.decode()
    assert reverse("patient_report", args=[reported["patient"].pk]) + "?language=en" in patient_html


def test_the_trend_holds_this_panel_and_at_most_seven_before_it_never_a_later_one():
    from diagnostics.services.report import TREND_PANELS, trend_rows

    patient = make_patient("MRN-TREND")
    panels = [make_panel(patient, collected_at=COLLECTED + timedelta(days=day), TSH=1 + day) for day in range(12)]
    rows = trend_rows(panels[9])
    assert [row.panel for row in rows] == panels[9:1:-1] and len(rows) == TREND_PANELS == 8
