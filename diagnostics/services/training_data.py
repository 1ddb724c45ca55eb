"""The rows a training run learns from: the labelled panels in the database, the run's extra UCI file, and
(when asked) the panels clinicians reviewed. The training service trains on them; monitoring reads them
again for a model version that has no stored input reference."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from django.core.files.storage import default_storage

from diagnostics.models import TrainingRun
from diagnostics.services.holdout import holdout_key, labelled_panel_records
from diagnostics.services.reviews import add_reviewed_panels
from mlcore.data import ReadResult, read_uci
from mlcore.schema import CLASSES


class TrainingFailed(Exception):
    """The run cannot go on; the message is shown on the run."""


def read_data_file(data_file: str) -> ReadResult:
    """The rows of a run's extra data file: a path in the data folder, or a name in the file storage."""
    if Path(data_file).is_absolute():
        return read_uci(data_file)
    with default_storage.open(data_file, "rb") as handle:
        return read_uci(io.BytesIO(handle.read()))


def training_records(run: TrainingRun) -> list[dict]:
    """Labelled panels from the database, then the run's UCI file rows not already among them."""
    records = labelled_panel_records()
    if run.data_file:
        try:
            result = read_data_file(run.data_file)
        except OSError:
            raise TrainingFailed("The data file can no longer be read.") from None
        seen = {record["holdout_key"] for record in records}
        for record in result.records:
            key = holdout_key(uci_record_id=record["record_id"])
            if record["label"] in CLASSES and key not in seen:
                seen.add(key)
                records.append({**record, "holdout_key": key})
    if run.params.get("include_reviews"):
        records, _ = add_reviewed_panels(records)
    limit = run.params.get("max_records")
    if limit and len(records) > limit:
        # A deterministic sample: the same rows for the same data and limit.
        records = sorted(records, key=lambda r: hashlib.sha256(r["holdout_key"].encode()).digest())[:limit]
    return records
