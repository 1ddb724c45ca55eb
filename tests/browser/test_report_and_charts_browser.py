"""In real Chromium: the PDF report downloaded from the result and patient pages, the lab history chart (TSH on
a log axis, points coloured by class, value and outcome on hover), the previous-panel comparison and the
printed result page, the training chart's kept model and out-of-fold series.

ORM calls stay outside ``with sync_playwright()``.
"""

import shutil
import subprocess

import pytest
from django.urls import reverse

from diagnostics.models import JobStatus, TrainingRun
from tests.browser import chromium, watch
from tests.browser import log_in as browser_log_in
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

COLOURS = {"normal": "#2e7d32", "hyperthyroid": "#c62828", "hypothyroid": "#1565c0", "": "#6e7781"}


def log_in(page, base_url: str, username: str) -> None:
    browser_log_in(page, base_url, username, PASSWORD)


def test_the_report_downloads_from_the_result_and_patient_pages_in_english_and_french(live_server, history, tmp_path):
    from playwright.sync_api import sync_playwright

    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext is missing: apt-get install poppler-utils")
    panel = history["panels"][-1]
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = chromium(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        watch(page, problems)
        log_in(page, live_server.url, "clin")
        page.goto(f"{live_server.url}{reverse('panel_detail', args=[panel.pk])}")
        files = {}
        for language in ("en", "fr"):
            with page.expect_download() as download:
                page.click(f"#report-{language}")
            files[language] = tmp_path / f"panel-{language}.pdf"
            download.value.save_as(files[language])
        page.goto(f"{live_server.url}{reverse('patient_detail', args=[history['patient'].pk])}")
        with page.expect_download() as download:
            page.click("#report-en")
        files["patient"] = tmp_path / "patient.pdf"
        download.value.save_as(files["patient"])
        browser.close()

    text = {
        key: subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
        for key, path in files.items()
    }
    for key in text:
        assert "UCI-840801013" in text[key]
    assert "Refer: hypothyroid" in text["en"] and "Low confidence" in text["en"]
    assert "45 " in text["en"] and "mU/L" in text["en"] and "high" in text["en"]
    assert "2025-12-26 09:30" in text["en"]  # 300 days after 1 March 2025 09:30
    assert "À adresser : hypothyroïdie" in text["fr"] and "26/12/2025 09:30" in text["fr"]
    assert "Évolution depuis le bilan précédent" in text["fr"] and "0,01" in text["fr"]
    assert "Refer: hypothyroid" in text["patient"]  # the patient's report is of the latest panel
    assert problems == []


def test_the_lab_history_draws_tsh_on_a_log_axis_with_points_coloured_by_class_and_outcome_on_hover(
    live_server, history
):
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = chromium(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        watch(page, problems)
        log_in(page, live_server.url, "clin")
        page.goto(f"{live_server.url}{reverse('patient_detail', args=[history['patient'].pk])}")
        page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('chart-TSH'))")
        config = page.evaluate("""() => {
          const read = (id) => {
            const chart = Chart.getChart(document.getElementById(id));
            const set = chart.data.datasets[0];
            return { type: chart.options.scales.y.type, colours: set.pointBackgroundColor,
                     values: set.data.map((p) => p.value), height: chart.height, width: chart.width };
          };
          return { TSH: read("chart-TSH"), TT4: read("chart-TT4") };
        }""")
        # Hover the last TSH point: the tooltip gives the value, unit, class and outcome.
        box = page.locator("#chart-TSH").bounding_box()
        point = page.evaluate("""() => {
          const meta = Chart.getChart(document.getElementById('chart-TSH')).getDatasetMeta(0);
          const last = meta.data[meta.data.length - 1];
          return { x: last.x, y: last.y };
        }""")
        page.mouse.move(box["x"] + point["x"], box["y"] + point["y"])
        page.wait_for_function("() => Chart.getChart(document.getElementById('chart-TSH')).tooltip.opacity > 0")
        tooltip = page.evaluate("""() => {
          const tip = Chart.getChart(document.getElementById('chart-TSH')).tooltip;
          return [tip.title.join(' '), ...tip.body.flatMap((b) => b.lines)];
        }""")
        browser.close()

    assert config["TSH"]["type"] == "logarithmic"
    assert config["TT4"]["type"] == "linear"
    assert config["TSH"]["values"] == [1.8, 0.01, 45]
    assert config["TSH"]["colours"] == [COLOURS["normal"], COLOURS["hyperthyroid"], COLOURS["hypothyroid"]]
    assert config["TSH"]["height"] >= 300  # larger charts (20rem)
    assert tooltip == ["26 Dec 2025, 09:30", "TSH 45 mU/L", "hypothyroid (refer)"]
    assert problems == []


def test_the_result_page_compares_with_the_previous_panel_and_prints_without_navigation(live_server, history):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = chromium(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        log_in(page, live_server.url, "clin")
        page.goto(f"{live_server.url}{reverse('panel_detail', args=[history['panels'][-1].pk])}")
        caption = page.inner_text("#comparison caption")
        tsh = page.inner_text('#comparison tr[data-test="TSH"]')
        page.emulate_media(media="print")  # printed: the content without navigation, forms and buttons
        printed = {
            selector: page.is_visible(selector)
            for selector in (
                "header.site nav",
                "#language",
                "#report-en",
                "#comparison",
                "#prediction-title",
                "footer.site",
            )
        }
        page.emulate_media(media="screen")
        page.click("text=Open the previous panel")
        previous_heading = page.inner_text("#comparison caption")
        browser.close()

    assert "2025-06-29 09:30" in caption and "hyperthyroid" in caption
    assert tsh.split("\t")[:4] == ["TSH", "0.01", "45", "+44.99 (+449900 %)"]
    assert "2025-03-01 09:30" in previous_heading
    assert printed == {
        "header.site nav": False,
        "#language": False,
        "#report-en": False,
        "#comparison": True,
        "#prediction-title": True,
        "footer.site": True,
    }


def test_the_training_chart_draws_the_kept_model_and_each_out_of_fold_model_apart_with_labelled_axes(
    live_server, data_manager
):
    from playwright.sync_api import sync_playwright

    from tests.test_pages_jobs import training_history

    history = training_history([0.3 + abs(e - 3) / 10 for e in range(1, 7)], [[0.5, 0.4, 0.45], [0.6, 0.5]])
    run = TrainingRun.objects.create(status=JobStatus.SUCCEEDED, epoch=2, epochs=50, history=history)
    with sync_playwright() as playwright:
        browser = chromium(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        log_in(page, live_server.url, "dm")
        page.goto(f"{live_server.url}{reverse('training_detail', args=[run.pk])}")
        page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('chart-training'))")
        chart = page.evaluate("""() => {
          const chart = Chart.getChart(document.getElementById('chart-training'));
          const titles = {};
          for (const [id, scale] of Object.entries(chart.options.scales)) {
            titles[id] = scale.title.display && scale.title.text;
          }
          const sets = chart.data.datasets.map((d) => ({ label: d.label, stage: d.stage, xs: d.data.map((p) => p.x) }));
          return { sets, titles };
        }""")
        stages = page.inner_text("#training-stages")
        browser.close()

    fit_sets = [s for s in chart["sets"] if s["stage"] == "fit"]
    cv_sets = [s for s in chart["sets"] if s["stage"] == "cv"]
    assert len(fit_sets) == 3 and all(s["xs"] == [1, 2, 3, 4, 5, 6] for s in fit_sets)
    assert [s["xs"] for s in cv_sets] == [[1, 2, 3], [1, 2]]
    assert [s["label"] for s in cv_sets] == [
        "Out-of-fold model 1: validation loss",
        "Out-of-fold model 2: validation loss",
    ]
    assert chart["titles"] == {
        "x": "Epoch (counted from 1 in each stage)",
        "f1": "Validation macro-F1",
        "loss": "Loss (cross-entropy)",
    }
    assert "6 epochs (at most 50)" in stages and "2 folds, 2–3 epochs each" in stages
