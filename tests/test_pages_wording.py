"""Pages in the user's language: 24-hour dates in each language's format, history flags and referral sources
in plain words (the API keeps the codes)."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from tests.page_builders import make_panel, make_patient

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")


def french(client):
    client.post(reverse("set_language"), {"language": "fr", "next": "/"})
    return client


def test_dates_are_24_hour_in_the_languages_format(client_for, clinician):
    panel = make_panel(make_patient(), collected_at=datetime(2026, 1, 5, 21, 30, tzinfo=PARIS))
    client = client_for(clinician)
    english = client.get(reverse("panel_detail", args=[panel.pk])).content.decode()
    assert "2026-01-05 21:30" in english and "p.m." not in english
    assert "05/01/2026 21:30" in french(client).get(reverse("panel_detail", args=[panel.pk])).content.decode()


def test_flags_and_referral_sources_read_in_plain_language_on_pages_and_stay_codes_in_the_api(client_for, clinician):
    panel = make_panel(make_patient(), psych=True, query_hypothyroid=True, referral_source="SVHC")
    client = client_for(clinician)
    html = client.get(reverse("panel_detail", args=[panel.pk])).content.decode()
    assert "Psychiatric condition" in html and "Hypothyroidism suspected by the referrer" in html
    assert "Referring centre SVHC" in html
    form = client.get(reverse("panel_create")).content.decode()
    assert "Psychiatric condition" in form and ">Referring centre SVHC<" in form and 'value="SVHC"' in form
    data = client.get(f"/api/v1/patients/{panel.patient_id}/panels/").json()["results"][0]
    assert data["referral_source"] == "SVHC" and data["psych"] is True
