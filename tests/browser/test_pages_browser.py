"""The clinician's pages in real Chromium (Playwright) against a live server on 127.0.0.1.

ORM calls stay outside ``with sync_playwright()`` (Django refuses sync DB access inside its event loop).
Screenshots go to test-artifacts/screenshots/.
"""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from diagnostics.models import LabPanel
from tests.browser import CHROMIUM, LAUNCH_ARGS, log_in
from tests.conftest import PASSWORD
from tests.page_builders import make_panel, make_patient, make_prediction

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CANVAS_DRAWN = """(id) => {
  const canvas = typeof id === "string" ? document.getElementById(id) : document.querySelector("canvas.perf-chart");
  if (!canvas || !window.Chart || !Chart.getChart(canvas)) return false;
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) return true;
  return false;
}"""


@pytest.fixture
def scene(clinician, active_version):  # (fixture)
    """A patient with two scored panels by the active (trained) model."""
    patient = make_patient("MRN-BROWSER", sex="F")
    for days, tsh, predicted in ((200, 1.8, "normal"), (20, 6.5, "hypothyroid")):
        panel = make_panel(patient, collected_at=timezone.now() - timedelta(days=days), TSH=tsh)
        make_prediction(panel, active_version, predicted, uncertain=predicted != "normal")
    return {"patient": patient, "version": active_version}


def shot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def clinician_page(playwright, live_server, problems: list[str]):
    """Chromium logged in as the clinician; console errors, page errors and 4xx/5xx answers go to problems."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.set_default_timeout(15_000)
    log_in(page, live_server.url, "clin", PASSWORD)
    return browser, page


def test_clinician_enters_a_panel_and_reads_the_explained_prediction_in_english_and_french(live_server, scene):
    from playwright.sync_api import sync_playwright

    patient = scene["patient"]
    panels_before = LabPanel.objects.count()
    problems: list[str] = []
    with sync_playwright() as playwright:
        # Log in; the dashboard draws its charts.
        browser, page = clinician_page(playwright, live_server, problems)
        page.wait_for_function(CANVAS_DRAWN, arg="chart-distribution")
        shot(page, "dashboard")

        # Find the patient by record number prefix and open the page: lab history charts are drawn.
        page.click("nav >> text=Patients")
        page.fill("#id_q", "mrn-brow")
        page.click("form.search button[type=submit]")
        shot(page, "patient-list")
        page.click("text=MRN-BROWSER")
        page.wait_for_function(CANVAS_DRAWN, arg="chart-TSH")
        shot(page, "patient")

        # Enter a panel with a high TSH: a hypothyroid prediction with its explanation and the disclaimer.
        page.click("text=Enter lab results for this patient")
        assert page.input_value("#id_record_number") == "MRN-BROWSER"
        for field, value in {"age": "58", "TSH": "45", "T3": "0.9", "TT4": "40", "T4U": "0.95", "FTI": "42"}.items():
            page.fill(f"#id_{field}", value)
        page.click("button.primary")
        page.wait_for_selector("#predicted-class")
        predicted = page.inner_text("#predicted-class")
        explanation = page.inner_text("#explanation")
        disclaimer = page.inner_text(".disclaimer")
        result = shot(page, "panel-result")
        page.set_viewport_size({"width": 820, "height": 1180})  # a tablet held upright
        tablet_overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        shot(page, "panel-result-tablet")
        page.set_viewport_size({"width": 1280, "height": 900})

        # An implausible value: the field error names the problem; nothing is saved.
        page.goto(f"{live_server.url}/panels/new/?patient={patient.pk}")
        page.fill("#id_TSH", "1200")
        page.click("button.primary")
        page.wait_for_selector("#id_TSH_error")
        tsh_error = page.inner_text("#id_TSH_error")
        shot(page, "panel-error")

        # Switch to French: French labels, and a French decimal comma is accepted.
        page.select_option("#language", "fr")
        page.click("form.lang button[type=submit]")
        page.wait_for_selector("text=Bilan thyroïdien")
        french_label = page.inner_text("label[for=id_record_number]")
        shot(page, "panel-form-fr")
        page.fill("#id_record_number", "MRN-BROWSER")
        page.fill("#id_TSH", "2,5")
        page.fill("#id_T4U", "0,98")
        page.click("button.primary")
        page.wait_for_selector("#predicted-class")
        french_heading = page.inner_text("h1")

        # Model performance: the trained model's evaluation curves are drawn.
        page.goto(f"{live_server.url}/models/{scene['version'].pk}/")
        page.wait_for_function(CANVAS_DRAWN, arg=None)
        shot(page, "model-performance-fr")
        browser.close()

    assert predicted == "hypothyroid"
    assert tablet_overflow <= 0
    assert "TSH 45 mU/L pushed towards" in explanation
    assert "decision aid" in disclaimer.lower()
    assert "TSH 1200 mU/L is above the plausible maximum 1000 mU/L" in tsh_error
    assert french_label == "Numéro de dossier médical"
    assert french_heading == "Résultat du bilan"
    assert LabPanel.objects.count() == panels_before + 2
    assert LabPanel.objects.filter(patient=patient, TSH=2.5, T4U=0.98).exists()
    assert problems == []
    assert result.stat().st_size > 10_000


def test_a_suspected_unit_is_confirmed_on_the_form_and_the_result_says_refer_with_its_reason(live_server, scene):
    from playwright.sync_api import sync_playwright

    patient = scene["patient"]
    panels_before = LabPanel.objects.count()
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser, page = clinician_page(playwright, live_server, problems)

        # Total T4 typed in ug/dL: the form shows the warning and asks to confirm; nothing is saved yet.
        page.goto(f"{live_server.url}/panels/new/?patient={patient.pk}")
        page.fill("#id_age", "50")
        page.fill("#id_TSH", "0.01")
        page.fill("#id_TT4", "17")
        page.click("button.primary")
        page.wait_for_selector("#confirm-warnings")
        asked = page.inner_text("#confirm-warnings")
        kept_value = page.input_value("#id_TT4")
        shot(page, "panel-confirm-warnings")
        still_on_form = "/panels/new/" in page.url  # still the form, not a result page

        # Confirmed: stored and scored; the result page says refer, with the reason in plain words.
        page.check("#id_confirm_warnings")
        page.click("button.primary")
        page.wait_for_selector("#outcome[data-outcome=refer]")
        banner = page.inner_text("#outcome")
        warnings = page.inner_text("#warnings")
        shot(page, "panel-result-refer")
        browser.close()

    assert "Please check these values before saving" in asked
    assert "TT4 17 nmol/L looks like ug/dL: × 12.87 = 218.8 nmol/L — check the unit." in asked
    assert kept_value == "17" and still_on_form
    assert "refer: a clinician must look" in banner
    assert "TT4 17 nmol/L looks like ug/dL" in banner  # the reason of the referral
    assert "TT4 17 nmol/L looks like ug/dL" in warnings
    assert LabPanel.objects.count() == panels_before + 1
    assert problems == []
