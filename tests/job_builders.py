"""Builders for the job tests (scoring files, training, promotion): dev data lines and records, CSV text, uploads,
imported panels, altered model copies. The model fixtures they use are in conftest.py."""

import csv
import io
import json
import os
import shutil
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from diagnostics.services.uci_import import import_uci
from mlcore.data import read_uci
from mlcore.schema import INPUT_FIELDS

DATA_DIR = Path(os.environ["THYROWEB_DATA_DIR"]) if os.environ.get("THYROWEB_DATA_DIR") else None
DEV_DATA = DATA_DIR / "thyroid0387-dev.data" if DATA_DIR else None


def dev_lines(count: int, start: int = 0) -> list[str]:
    """Lines of the shared dev data file (the test skips without it)."""
    if DEV_DATA is None or not DEV_DATA.exists():
        pytest.skip("THYROWEB_DATA_DIR with thyroid0387-dev.data is not set")
    with open(DEV_DATA, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    return lines[start : start + count]


def scorable_dev_lines(count: int) -> list[str]:
    """The first ``count`` lines of the dev data that hold a lab value (a scoring job rejects the others)."""
    from mlcore.rules import has_lab_value

    lines = dev_lines(count + count // 10 + 50)
    records = read_uci(io.StringIO("\n".join(lines))).records
    kept = [line for line, record in zip(lines, records, strict=True) if has_lab_value(record)]
    assert len(kept) >= count, "not enough dev lines with a lab value"
    return kept[:count]


def dev_records(count: int, start: int = 0) -> list[dict]:
    return read_uci(io.StringIO("\n".join(dev_lines(count, start)))).records


def csv_text(rows: list[dict], *, extra: tuple[str, ...] = ()) -> str:
    """A CSV with every input column (plus ``extra`` columns) from dicts of cell values."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*INPUT_FIELDS, *extra], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({name: _cell(row.get(name)) for name in writer.fieldnames})
    return out.getvalue()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


def upload(text: str | bytes, name: str = "panels.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode() if isinstance(text, str) else text, content_type="text/csv")


def import_dev_panels(count: int, start: int = 0) -> None:
    """Labelled panels in the database: the first ``count`` lines of the dev data, imported."""
    import_uci(io.StringIO("\n".join(dev_lines(count, start))), skip_bad=True)


def copy_model(source: Path, target: Path, *, decision_weights: dict | None = None) -> Path:
    """A copy of a model directory, optionally with other decision weights (a deliberately different model)."""
    shutil.copytree(source, target)
    if decision_weights is not None:
        metadata_path = target / "metadata.json"
        metadata = json.loads(metadata_path.read_text())
        metadata["decision_weights"] = decision_weights
        metadata["version"] = f"{metadata['version']}-altered"
        metadata_path.write_text(json.dumps(metadata))
    return target
