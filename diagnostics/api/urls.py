"""The REST API, version 1 (mounted at /api/v1/). Every view declares its required_role."""

from django.urls import include, path

from diagnostics.api import audit
from diagnostics.api.views import docs, fhir, jobs, patients, predict, predictions, registry, reviews

urlpatterns = [
    path("schema/", docs.SchemaView.as_view(), name="api-schema"),
    path("docs/", docs.DocsView.as_view(), name="api-docs"),
    path("predict", predict.Predict.as_view(), name="api-predict"),
    path("predict/bulk", predict.BulkPredict.as_view(), name="api-predict-bulk"),
    path("patients/", patients.PatientList.as_view(), name="api-patients"),
    path("patients/<int:pk>/", patients.PatientDetail.as_view(), name="api-patient"),
    path("patients/<int:pk>/panels/", patients.PatientPanels.as_view(), name="api-patient-panels"),
    path("patients/<int:pk>/fhir/", fhir.FhirPatientExport.as_view(), name="api-patient-fhir"),
    path("fhir/Bundle", fhir.FhirImport.as_view(), name="api-fhir-import"),
    path("predictions/", predictions.PredictionList.as_view(), name="api-predictions"),
    path("predictions/<int:pk>/", predictions.PredictionDetail.as_view(), name="api-prediction"),
    path("model-versions/", registry.ModelVersionList.as_view(), name="api-model-versions"),
    path("model-versions/<str:version>/", registry.ModelVersionDetail.as_view(), name="api-model-version"),
    path(
        "model-versions/<str:version>/activate",
        registry.ModelVersionActivate.as_view(),
        name="api-model-version-activate",
    ),
    path("training-runs/", jobs.TrainingRunList.as_view(), name="api-training-runs"),
    path("training-runs/<int:pk>/", jobs.TrainingRunDetail.as_view(), name="api-training-run"),
    path("scoring-jobs/", jobs.ScoringJobList.as_view(), name="api-scoring-jobs"),
    path("scoring-jobs/<int:pk>/", jobs.ScoringJobDetail.as_view(), name="api-scoring-job"),
    path("scoring-jobs/<int:pk>/results", jobs.ScoringJobResults.as_view(), name="api-scoring-job-results"),
    path("review-worklist/", reviews.ReviewWorklist.as_view(), name="api-review-worklist"),
    path("panels/<int:pk>/reviews/", reviews.PanelReviews.as_view(), name="api-panel-reviews"),
    path("monitoring/", reviews.Monitoring.as_view(), name="api-monitoring"),
    path("audit/", include(audit.urlpatterns)),
]
