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
