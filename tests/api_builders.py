"""Builders for the API tests: JSON calls with a session or a token, and stored rows."""

import json

from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from diagnostics.models import LabPanel, ModelVersion, Patient, Prediction

NORMAL_PANEL = {"age": 45, "sex": "F", "TSH": 1.3, "T3": 2.0, "TT4": 104.0, "T4U": 0.96, "FTI": 108.0}
HYPO_PANEL = {"age": 60, "sex": "F", "TSH": 45.0, "T3": 0.9, "TT4": 40.0, "T4U": 0.95, "FTI": 42.0}


def api(client: Client, method: str, url: str, body=None, **extra):
    """Call the API with a JSON body (when given) and return the response."""
    if body is None:
        return client.generic(method.upper(), url, **extra)
    return client.generic(method.upper(), url, json.dumps(body), content_type="application/json", **extra)


def token_client(user) -> Client:
    """A client that authenticates with the user's API token, like a machine would."""
    token, _ = Token.objects.get_or_create(user=user)
    return Client(HTTP_AUTHORIZATION=f"Token {token.key}")


def make_patient(record_number: str = "MRN-API-1", sex: str = "F", **fields) -> Patient:
    return Patient.objects.create(record_number=record_number, sex=sex, **fields)


def make_panel(patient: Patient, **values) -> LabPanel:
    fields = {k: v for k, v in NORMAL_PANEL.items() if k != "sex"}
    return LabPanel.objects.create(patient=patient, **{"collected_at": timezone.now(), **fields, **values})


def make_version(version: str = "test-v1", status: str = ModelVersion.Status.CANDIDATE, **fields) -> ModelVersion:
    fields = {"artefact_path": "models/none", "metrics": {"macro_f1": 0.9}, **fields}
    return ModelVersion.objects.create(version=version, status=status, **fields)


def make_prediction(panel: LabPanel, version: ModelVersion, predicted_class: str = "normal") -> Prediction:
    p = {"normal": 0.1, "hyperthyroid": 0.1, "hypothyroid": 0.1, predicted_class: 0.8}
    return Prediction.objects.create(
        panel=panel,
        model_version=version,
        predicted_class=predicted_class,
        p_normal=p["normal"],
        p_hyperthyroid=p["hyperthyroid"],
        p_hypothyroid=p["hypothyroid"],
        explanation=[{"text": "TSH 1.3 mU/L pushed towards normal"}],
    )
