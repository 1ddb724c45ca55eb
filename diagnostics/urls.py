from django.urls import include, path

from diagnostics.views import audit, dashboard, jobs, panels, patients, performance, reports

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("audit/", include(audit.urlpatterns)),
    path("patients/", patients.patient_list, name="patient_list"),
    path("patients/<int:pk>/", patients.patient_detail, name="patient_detail"),
    path("patients/<int:pk>/report.pdf", reports.patient_report, name="patient_report"),
    path("panels/new/", panels.panel_create, name="panel_create"),
    path("panels/<int:pk>/", panels.panel_detail, name="panel_detail"),
    path("panels/<int:pk>/report.pdf", reports.panel_report, name="panel_report"),
    path("models/", performance.model_list, name="model_list"),
    path("models/compare/", performance.model_compare, name="model_compare"),
    path("models/<int:pk>/", performance.model_detail, name="model_detail"),
    path("models/<int:pk>/activate/", performance.model_activate, name="model_activate"),
    path("jobs/training/", jobs.training_list, name="training_list"),
    path("jobs/training/start/", jobs.training_start, name="training_start"),
    path("jobs/training/progress/", jobs.training_progress, name="training_progress"),
    path("jobs/training/<int:pk>/", jobs.training_detail, name="training_detail"),
    path("jobs/scoring/", jobs.scoring_list, name="scoring_list"),
    path("jobs/scoring/start/", jobs.scoring_start, name="scoring_start"),
    path("jobs/scoring/progress/", jobs.scoring_progress, name="scoring_progress"),
    path("jobs/scoring/<int:pk>/", jobs.scoring_detail, name="scoring_detail"),
    path("jobs/scoring/<int:pk>/results/", jobs.scoring_results, name="scoring_results"),
]
