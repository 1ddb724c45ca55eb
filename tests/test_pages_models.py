"""Model performance pages: metrics from mlcore.evaluate's JSON, curves, confusion matrix, model card,
comparison, and activation by a data manager."""

import json

import pytest
from django.urls import reverse

from diagnostics.models import AuditEvent, ModelVersion
from diagnostics.templatetags.pages import markdown_card
from tests.page_builders import make_version, metrics

pytestmark = pytest.mark.django_db


def chart_data(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="performance-data" type="application/json">') + len(
        '<script id="performance-data" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_performance_page_shows_per_class_metrics_confusion_matrix_and_curves(client_for, clinician):
    version = make_version()
    response = client_for(clinician).get(reverse("model_detail", args=[version.pk]))
    html = response.content.decode()
    assert "0.910" in html  # hyperthyroid recall
    assert "891" in html and "shade-9" in html  # confusion matrix, shaded by share of the row
    data = chart_data(response)["versions"][0]
    assert data["roc"]["hyperthyroid"][1] == {"x": 0.1, "y": 0.9}
    assert data["pr"]["normal"][0] == {"x": 0.0, "y": 1.0}
    assert data["reliability"] == [{"x": 0.5, "y": 0.45}, {"x": 0.95, "y": 0.96}]
    assert 'data-kind="roc"' in html and 'data-kind="reliability"' in html


def test_missing_metrics_leave_valid_chart_json(client_for, clinician):
    partial = metrics()
    partial["roc_auc_ovr"] = None  # NaN (one class absent) is stored as null
    del partial["roc_curves"]["hyperthyroid"]
    version = make_version(metrics=partial)
    empty = make_version("empty", status=ModelVersion.Status.CANDIDATE, metrics={})
    client = client_for(clinician)
    response = client.get(reverse("model_detail", args=[version.pk]))
    assert "roc_auc_ovr" not in [m["key"] for m in response.context["performance"]["summary"]]
    assert sorted(chart_data(response)["versions"][0]["roc"]) == ["hypothyroid", "normal"]
    response = client.get(reverse("model_detail", args=[empty.pk]))
    assert chart_data(response)["versions"][0]["roc"] == {}
    assert "no stored metrics" in response.content.decode()


def test_model_card_markdown_is_rendered_with_all_text_escaped():
    html = markdown_card(
        "# Card\n\n- **bold** *refer* <script>alert(1)</script>\n\n| a | b |\n|---|---|\n| 1 | <b>2</b> |"
    )
    assert "<h3>Card</h3>" in html
    assert "<strong>bold</strong>" in html and "<em>refer</em>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<td>&lt;b&gt;2&lt;/b&gt;</td>" in html


def test_two_versions_compare_side_by_side(client_for, clinician):
    a = make_version("v-a")
    b = make_version("v-b", status=ModelVersion.Status.CANDIDATE, metrics=metrics(scale=0.5))
    response = client_for(clinician).get(reverse("model_compare") + f"?a={a.pk}&b={b.pk}")
    rows = {(r["key"], r["class"]): r["values"] for r in response.context["rows"]}
    assert rows[("macro_f1", "")] == [0.94, 0.47]
    assert rows[("recall", "hyperthyroid")] == [0.91, 0.455]
    assert len(chart_data(response)["versions"]) == 2


def test_compare_with_an_unknown_version_shows_a_form_error(client_for, clinician):
    a = make_version("v-a")
    response = client_for(clinician).get(reverse("model_compare") + f"?a={a.pk}&b=99999")
    assert response.status_code == 200
    assert response.context["form"].errors["b"]


def test_model_list_marks_the_active_version(client_for, clinician):
    make_version("v-active")
    make_version("v-old", status=ModelVersion.Status.RETIRED)
    html = client_for(clinician).get(reverse("model_list")).content.decode()
    assert "v-active" in html and "v-old" in html and "status-active" in html


def test_activation_form_is_shown_to_data_managers_only(client_for, clinician, data_manager):
    make_version("v-active")
    candidate = make_version("v-cand", status=ModelVersion.Status.CANDIDATE)
    url = reverse("model_detail", args=[candidate.pk])
    assert "Activate this version" not in client_for(clinician).get(url).content.decode()
    assert "Activate this version" in client_for(data_manager).get(url).content.decode()


def test_a_worse_candidate_is_refused_without_a_reason_and_activated_with_one(client_for, data_manager):
    active = make_version("v-active")
    worse = make_version("v-worse", status=ModelVersion.Status.CANDIDATE, metrics=metrics(scale=0.5))
    client = client_for(data_manager)
    url = reverse("model_activate", args=[worse.pk])
    response = client.post(url, follow=True)
    worse.refresh_from_db()
    assert worse.status == ModelVersion.Status.CANDIDATE
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    response = client.post(url, {"override_reason": "validated locally on 2026 data"}, follow=True)
    worse.refresh_from_db()
    active.refresh_from_db()
    assert worse.status == ModelVersion.Status.ACTIVE
    assert active.status != ModelVersion.Status.ACTIVE
    assert AuditEvent.objects.filter(object_id=str(worse.pk), action__contains="activ").exists()


def test_curves_missing_from_the_row_are_read_from_the_artefact_metrics_file(client_for, clinician, tmp_path):
    summary = {key: value for key, value in metrics().items() if not isinstance(value, (dict, list))}
    (tmp_path / "metrics.json").write_text(json.dumps({**metrics(), "roc_auc_ovr": float("nan")}))
    version = make_version("v-files", metrics=summary, artefact_path=str(tmp_path))
    response = client_for(clinician).get(reverse("model_detail", args=[version.pk]))
    data = chart_data(response)["versions"][0]
    assert data["roc"]["normal"][1] == {"x": 0.1, "y": 0.9}
    assert response.context["performance"]["confusion"][0]["cells"][0]["count"] == 891
    assert {m["key"]: m["value"] for m in response.context["performance"]["summary"]}["roc_auc_ovr"] == 0.99


def test_the_held_out_comparison_made_at_training_time_is_shown(client_for, clinician):
    stored = {
        **metrics(),
        "holdout": {
            "rows": 120,
            "baseline_version": "v-old",
            "candidate": {"macro_f1": 0.93, "recall_hyperthyroid": 0.9, "accuracy": 0.97},
            "baseline": {"macro_f1": 0.91, "recall_hyperthyroid": 0.85, "accuracy": 0.96},
        },
    }
    version = make_version("v-new", status=ModelVersion.Status.CANDIDATE, metrics=stored)
    html = client_for(clinician).get(reverse("model_detail", args=[version.pk])).content.decode()
    assert "120 held-out labelled panels" in html
    assert "0.930" in html and "0.850" in html and "v-old" in html


@pytest.mark.slow
def test_performance_page_of_a_trained_model_shows_its_real_evaluation(client_for, clinician, active_version):
    response = client_for(clinician).get(reverse("model_detail", args=[active_version.pk]))
    performance = response.context["performance"]
    assert all(row["recall"] is not None for row in performance["per_class"])
    assert performance["confusion"] is not None
    data = chart_data(response)["versions"][0]
    assert set(data["roc"]) == {"normal", "hyperthyroid", "hypothyroid"}
    assert all(len(points) > 2 for points in data["pr"].values())
    assert data["reliability"]
    assert "<table>" in response.content.decode().split('id="card-title"')[1]  # the model card's metric table
