"""French and English: labels, field errors, explanations, dates and decimals per language."""

import pytest
from django.urls import reverse
from django.utils import translation

from diagnostics.templatetags.pages import explanation_text
from tests.page_builders import make_panel, make_patient, make_prediction, make_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def french(client_for, clinician):
    client = client_for(clinician)
    client.post(reverse("set_language"), {"language": "fr", "next": "/"})
    return client


def test_language_switch_turns_the_pages_french(french):
    html = french.get(reverse("patient_list")).content.decode()
    assert '<html lang="fr">' in html
    assert "Nouveau bilan" in html and "Le numéro de dossier contient" in html


def test_lab_form_in_french_shows_french_labels_and_decimal_commas_in_ranges(french):
    html = french.get(reverse("panel_create")).content.decode()
    assert "Bilan thyroïdien" in html and "Enregistrer et évaluer" in html
    assert "mU/L ; référence 0,27–4,2" in html


def test_field_errors_are_in_french_with_french_decimals(french):
    make_patient()
    data = {"record_number": "MRN-0001", "collected_at": "2026-11-20T09:30", "referral_source": "other"}
    response = french.post(reverse("panel_create"), {**data, "TSH": "1200,5", "T4U": "abc"})
    errors = response.context["form"].errors
    assert errors["TSH"] == ["TSH 1200,5 mU/L dépasse le maximum plausible de 1000 mU/L."]
    assert errors["T4U"] == ["T4U « abc » n’est pas un nombre."]


def test_patient_page_formats_dates_and_decimals_per_language(client_for, clinician, french):
    version = make_version()
    patient = make_patient()
    panel = make_panel(patient, TSH=4.25)
    panel.collected_at = panel.collected_at.replace(year=2025, month=3, day=14, hour=12)
    panel.save()
    make_prediction(panel, version, "normal")
    url = reverse("patient_detail", args=[patient.pk])
    french_html = french.get(url).content.decode()
    assert "4,25" in french_html and "14/03/2025" in french_html and "80 %" in french_html
    english = client_for(clinician)
    english.post(reverse("set_language"), {"language": "en", "next": "/"})
    english_html = english.get(url).content.decode()
    assert "4.25" in english_html and "80 %" in english_html


def test_explanations_are_worded_in_the_page_language():
    item = {
        "feature": "TSH",
        "label": "TSH",
        "value": 45.0,
        "unit": "mU/L",
        "towards": "hypothyroid",
        "text": "TSH 45 mU/L pushed towards hypothyroid",
    }
    flag = {"feature": "on_thyroxine", "value": True, "towards": "hypothyroid", "text": "..."}
    with translation.override("en"):
        assert explanation_text(item) == "TSH 45 mU/L pushed towards hypothyroid"
    with translation.override("fr"):
        assert explanation_text(item) == "TSH 45 mU/L a orienté vers : hypothyroïdie"
        assert explanation_text(flag) == "Sous thyroxine: oui a orienté vers : hypothyroïdie"
