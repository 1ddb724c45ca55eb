"""Shared fixtures for the mlcore tests: the dev data through THYROWEB_DATA_DIR."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def dev_data_path() -> Path:
    data_dir = os.environ.get("THYROWEB_DATA_DIR")
    if not data_dir:
        pytest.skip("THYROWEB_DATA_DIR is not set")
    return Path(data_dir) / "thyroid0387-dev.data"


@pytest.fixture(scope="session")
def dev_records(dev_data_path):
    from mlcore.data import read_uci

    return read_uci(dev_data_path).records


@pytest.fixture(scope="session")
def dev_frame(dev_records):
    from mlcore.data import records_to_frame

    return records_to_frame(dev_records)


@pytest.fixture(scope="session")
def sample_records(dev_records):
    """600 records drawn with a fixed seed (other diagnoses included, as a Django upload would have)."""
    import random

    records = list(dev_records)
    random.Random(0).shuffle(records)
    return records[:600]


SMALL_CONFIG = {"members": 2, "oof_folds": 3, "max_epochs": 60}


@pytest.fixture(scope="session")
def small_model(sample_records, tmp_path_factory):
    """A model trained on the 600-record sample (2 networks, 3 out-of-fold folds, at most 60 epochs),
    with the progress reports it sent."""
    from mlcore.train import TrainingConfig, train_model

    reports: list[dict] = []
    out = train_model(
        sample_records,
        tmp_path_factory.mktemp("model"),
        seed=0,
        progress=reports.append,
        config=TrainingConfig(**SMALL_CONFIG),
    )
    return out, reports
