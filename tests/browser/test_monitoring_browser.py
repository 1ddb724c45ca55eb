"""The review worklist and the monitoring page in real Chromium: a clinician reviews an item through the
form; after a batch with TSH in the wrong unit, a data manager sees the drift alert and the charts drawn
under the Content-Security-Policy. The monitoring page's screenshot is kept in test-artifacts/."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from diagnostics.models import PanelReview, Prediction
from diagnostics.services.bulk_writes import score_stored_panels
from diagnostics.services.monitoring import refresh_monitoring
from diagnostics.services.registry import active_model_version
from diagnostics.services.reviews import record_review
from tests.browser import CHROMIUM, LAUNCH_ARGS
from tests.conftest import PASSWORD
from tests.review_builders import dev_sample_panels

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
REVIEWED_AS = {"normal": "normal", "hyperthyroid": "hyperthyroid", "hypothyroid": "subclinical_hypothyroid"}


def drifting_clinic(clinician) -> None:
    """Five weeks of panels drawn like the training data, then a week whose lab sent TSH in mU/mL."""
    version = active_model_version()
    like = dev_sample_panels(step=12, prefix="LIKE")
    score_stored_panels(version=version)
    now = timezone.now()
    for week in range(5):
        ids = [p.pk for p in like[week::5]]
        Prediction.objects.filter(panel_id__in=ids).update(created_at=now - timedelta(weeks=5 - week))
    for panel in like[:60]:
        prediction = panel.predictions.get()
        if prediction.predicted_class:
            record_review(panel=panel, user=clinician, agrees=True, prediction=prediction)
    dev_sample_panels(step=25, offset=5, prefix="MUML", tsh_factor=0.001)
    score_stored_panels(version=version)


def login(page, url: str, user) -> None:
    page.goto(f"{url}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{url}/")


def test_a_clinician_reviews_from_the_worklist_and_a_data_manager_sees_drift(live_server, clinician, data_manager):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    drifting_clinic(clinician)
    refresh_monitoring()
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="en-GB")
        page.set_default_timeout(15_000)
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" or "Content" in m.text else None)
        page.on("pageerror", lambda error: problems.append(str(error)))

        login(page, live_server.url, clinician)
        page.goto(f"{live_server.url}/reviews/?reason=abnormal")
        first = page.locator("#worklist tbody tr").first
        record_number = first.locator("td").nth(1).inner_text()
        first.locator("a", has_text="Review").click()
        page.check("input[name=decision][value=not_thyroid]")
        page.fill("textarea[name=comment]", "amiodarone")
        page.click("#review button[type=submit]")
        page.wait_for_url("**/reviews/")
        worklist_text = page.locator("main").inner_text()
        page.context.clear_cookies()

        login(page, live_server.url, data_manager)
        assert page.locator("#monitoring-alerts").is_visible()
        page.goto(f"{live_server.url}/monitoring/")
        page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('chart-psi'))")
        drift_row = page.locator("#drift-table tbody tr", has_text="TSH").inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "monitoring.png"), full_page=True)
        browser.close()

    review = PanelReview.objects.get(comment="amiodarone")
    assert review.diagnosis == "not_thyroid" and review.reviewed_by == clinician
    assert review.panel.patient.record_number == record_number and record_number not in worklist_text
    assert "major shift" in drift_row
    assert problems == []
