"""Fixtures the browser tests share."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from diagnostics.models import Prediction
from tests.page_builders import make_panel, make_patient, make_prediction, make_version

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def history(clinician):
    """A patient with three panels over a year: normal, hyperthyroid (TSH 0.01), hypothyroid referral (TSH 45)."""
    version = make_version("browser-v1")
    patient = make_patient("UCI-840801013", sex="F")
    start = datetime(2025, 3, 1, 9, 30, tzinfo=PARIS)
    panels = []
    for days, tsh, tt4, predicted in (
        (0, 1.8, 104.0, "normal"),
        (120, 0.01, 190.0, "hyperthyroid"),
        (300, 45.0, 40.0, "hypothyroid"),
    ):
        panel = make_panel(patient, collected_at=start + timedelta(days=days), TSH=tsh, TT4=tt4)
        make_prediction(panel, version, predicted)
        panels.append(panel)
    Prediction.objects.filter(panel=panels[-1]).update(
        outcome="refer", uncertain=True, reasons=[{"code": "low_confidence", "params": {"probability": 0.55}}]
    )
    return {"patient": patient, "panels": panels}
