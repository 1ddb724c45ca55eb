"""Monitoring of the active model (SQL aggregates, PSI drift, agreement), its page, API,
periodic task and alerts."""

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from diagnostics.models import AuditEvent, InputReference, MonitoringSnapshot
from diagnostics.services.bulk_writes import score_stored_panels
from diagnostics.services.monitoring import lab_reference, psi, refresh_monitoring
from diagnostics.services.registry import active_model_version
from diagnostics.services.reviews import record_review
from diagnostics.tasks import refresh_monitoring as refresh_task
from mlcore import rules
from tests.api_builders import api, token_client
from tests.page_builders import make_panel, make_patient, make_version
from tests.review_builders import dev_sample_panels, stored_prediction

pytestmark = pytest.mark.django_db


def week_figures(version=None) -> dict:
    snapshots = refresh_monitoring(version=version)
    return next(s for s in snapshots if s.period == "week")


def test_a_clinician_cannot_see_monitoring_and_a_data_manager_can(client_for, clinician, data_manager):
    assert client_for(clinician).get("/monitoring/").status_code == 403
    assert client_for(clinician).post("/monitoring/refresh/").status_code == 403
    assert api(token_client(clinician), "get", "/api/v1/monitoring/").status_code == 403
    assert not MonitoringSnapshot.objects.exists()

    client = client_for(data_manager)
    assert "No figures yet" in client.get("/monitoring/").content.decode()
    assert client.post("/monitoring/refresh/", {"period": "month"})["Location"] == "/monitoring/?period=month"
    assert MonitoringSnapshot.objects.filter(period="month").count() == 1
    page = client.get("/monitoring/?period=month").content.decode()
    assert 'id="monitoring-data"' in page and "chart.umd.min.js" in page and "monitoring.js" in page
    machine = token_client(data_manager)
    assert api(machine, "get", "/api/v1/monitoring/?period=week").json()["period"] == "week"
    assert api(machine, "get", "/api/v1/monitoring/?period=year").status_code == 400
    assert api(machine, "post", "/api/v1/monitoring/").status_code == 201


def test_figures_count_outcomes_classes_and_missing_labs_in_the_database():
    version = make_version("monitor-1")
    patient = make_patient()
    stored_prediction(make_panel(patient), version, "normal")
    stored_prediction(make_panel(patient, T3=None), version, "hyperthyroid", outcome=rules.REFER)
    stored_prediction(make_panel(patient, TSH=None, T3=None), version, outcome=rules.NOT_ASSESSED)
    stored_prediction(make_panel(patient), make_version("other", status="retired"), "hypothyroid")  # not this version
    InputReference.objects.create(
        model_version=version, labs={"TSH": lab_reference([0.5, 1, 1.3, 2, 3, 4, 0.8, 1.1, 1.5, 2.5, 0.9, 1.7], 12)}
    )

    week = week_figures(version).figures
    (period,) = week["periods"]
    assert period["panels"] == 3
    assert period["outcomes"] == {"assessed": 1, "refer": 1, "not_assessed": 1}
    assert period["classes"] == {"normal": 1, "hyperthyroid": 1, "hypothyroid": 0}
    assert period["labs"]["T3"]["missing_share"] == pytest.approx(2 / 3)
    assert period["labs"]["TSH"]["measured"] == 2 and period["labs"]["TSH"]["psi"] is not None
    assert period["labs"]["TT4"]["psi"] is None  # no training distribution stored for it


def test_the_figures_take_a_fixed_number_of_queries_whatever_the_number_of_predictions(
    django_assert_max_num_queries,
):
    version = make_version("monitor-2")
    InputReference.objects.create(model_version=version, labs={})
    patient = make_patient()
    for _ in range(3):
        stored_prediction(make_panel(patient), version, "normal")
    with django_assert_max_num_queries(20) as few:
        refresh_monitoring(version=version)
    for _ in range(60):
        stored_prediction(make_panel(patient), version, "normal")
    with django_assert_max_num_queries(len(few.captured_queries)):
        refresh_monitoring(version=version)


def test_psi_is_zero_for_the_same_distribution_and_large_for_a_shifted_one():
    reference = lab_reference([float(v) for v in range(1, 101)], 100)
    assert len(reference["edges"]) == 9 and sum(reference["proportions"]) == pytest.approx(1)
    assert psi([10] * 10, reference["proportions"]) == pytest.approx(0, abs=1e-9)
    assert psi([100, 0, 0, 0, 0, 0, 0, 0, 0, 0], reference["proportions"]) > 1


@pytest.mark.slow
def test_tsh_in_the_wrong_unit_raises_the_drift_alert_and_a_batch_like_the_training_data_does_not(
    client_for, data_manager, clinician
):
    version = active_model_version()  # the shipped model; its training rows are the dev data file's
    dev_sample_panels(step=15, prefix="LIKE")
    score_stored_panels(version=version)
    like = week_figures(version)
    assert "training rows" in like.figures["reference"]["source"]
    latest = like.figures["periods"][-1]["labs"]
    assert latest["TSH"]["psi"] < 0.1 and latest["TSH"]["measured"] > 300
    assert like.alerts == [] and not AuditEvent.objects.filter(action="monitoring.alert").exists()
    assert "monitoring-alerts" not in client_for(data_manager).get("/").content.decode()

    dev_sample_panels(step=10, offset=7, prefix="MUML", tsh_factor=0.001)  # TSH typed in mU/mL
    score_stored_panels(version=version)
    drift = week_figures(version)

    assert drift.figures["periods"][-1]["labs"]["TSH"]["psi"] >= 0.25
    assert {"kind": "drift", "lab": "TSH"}.items() <= drift.alerts[0].items()
    assert [a["lab"] for a in drift.alerts] == ["TSH"]  # the other labs did not move
    event = AuditEvent.objects.get(action="monitoring.alert")
    assert event.details["lab"] == "TSH" and event.details["psi"] >= 0.25
    assert "monitoring-alerts" in client_for(data_manager).get("/").content.decode()
    assert "monitoring-alerts" not in client_for(clinician).get("/").content.decode()
    week_figures(version)
    assert AuditEvent.objects.filter(action="monitoring.alert").count() == 1  # written when it is crossed


def test_agreement_with_reviews_gives_a_confusion_matrix_and_macro_f1_and_alerts_when_low(clinician, settings):
    settings.THYROWEB_MONITORING_MIN_REVIEWS = 4
    version = make_version("monitor-3")
    InputReference.objects.create(model_version=version, labs={})
    patient = make_patient()
    pairs = [
        ("normal", "normal"), ("normal", "hyperthyroid"), ("hypothyroid", "subclinical_hypothyroid"),
        ("hyperthyroid", "normal"), ("normal", "not_thyroid"),
    ]  # fmt: skip
    for predicted, reviewed in pairs:
        panel = make_panel(patient)
        stored_prediction(panel, version, predicted)
        record_review(panel=panel, user=clinician, agrees=False, diagnosis=reviewed)

    snapshot = week_figures(version)
    agreement = snapshot.figures["agreement"]
    # rows: reviewed normal, hyperthyroid, hypothyroid; columns: predicted normal, hyper, hypo, not assessed
    assert agreement["matrix"] == [[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0]]
    assert agreement["reviews"] == 4 and agreement["left_out"] == 1
    assert agreement["macro_f1"] == pytest.approx((0.5 + 0 + 1) / 3)
    assert [a["kind"] for a in snapshot.alerts] == ["agreement"]
    assert AuditEvent.objects.get(action="monitoring.alert").details["kind"] == "agreement"


def test_the_daily_monitoring_schedule_exists_after_set_up_and_its_task_stores_figures(tmp_path, settings):
    settings.THYROWEB_DATA_DIR = tmp_path
    call_command("setup_thyroweb", "--no-demo-users")
    task = PeriodicTask.objects.get(task="diagnostics.refresh_monitoring")
    assert task.enabled and task.crontab.hour == "2" and task.crontab.day_of_week == "*"

    snapshot_ids = refresh_task()
    assert sorted(MonitoringSnapshot.objects.values_list("period", flat=True)) == ["month", "week"]
    assert sorted(snapshot_ids) == sorted(MonitoringSnapshot.objects.values_list("id", flat=True))
