"""The fixed held-out split of labelled panels, and the scores that the promotion rule compares.

The rule itself lives in mlcore.holdout (the shipped model and every training run
use it too): a panel is held out when a hash of its key falls in the first
HOLDOUT_PERCENT of 100 buckets. The key depends only on the panel (its UCI
record id, or its database id), so every training run and every promotion
compares models on the same rows, and a held-out row is never trained on.
"""

from diagnostics.models import PANEL_VALUE_FIELDS, LabPanel
from mlcore import holdout as mlcore_holdout
from mlcore.evaluate import evaluate_model
from mlcore.holdout import HOLDOUT_PERCENT, is_held_out
from mlcore.schema import CLASSES

__all__ = [
    "HOLDOUT_PERCENT",
    "holdout_key",
    "holdout_scores",
    "is_held_out",
    "labelled_panel_records",
    "split_holdout",
]


def holdout_key(*, panel_id: int | None = None, uci_record_id: str | None = None) -> str:
    """UCI records share a key whether they come from the database or from a file (no leak between the two)."""
    if uci_record_id:
        return mlcore_holdout.holdout_key({"record_id": uci_record_id})
    return f"panel:{panel_id}"


def labelled_panel_records() -> list[dict]:
    """Every stored panel with a three-class diagnosis, as model records with "label" and "holdout_key"."""
    panels = LabPanel.objects.filter(diagnosis_class__in=CLASSES, patient__deleted_at__isnull=True)
    return [{**record, "label": row["diagnosis_class"]} for record, row in panel_records(panels, "diagnosis_class")]


def panel_records(panels, *extra_fields: str):
    """(model record with "holdout_key" and "panel_id", the row's values) for each panel of a LabPanel
    queryset, in id order; the row also holds ``extra_fields`` (fields, relations or annotations)."""
    fields = (*PANEL_VALUE_FIELDS, "id", "source", "source_ref", "patient__sex", *extra_fields)
    for row in panels.order_by("id").values(*fields).iterator(chunk_size=5000):
        record = {field: row[field] for field in PANEL_VALUE_FIELDS}
        record["sex"] = row["patient__sex"] or None
        uci_id = row["source_ref"] if row["source"] == LabPanel.Source.UCI else None
        record["holdout_key"] = holdout_key(panel_id=row["id"], uci_record_id=uci_id)
        record["panel_id"] = row["id"]
        yield record, row


def split_holdout(records: list[dict]) -> tuple[list[dict], list[dict]]:
    """(training records, held-out records) by each record's "holdout_key"."""
    train, held_out = [], []
    for record in records:
        (held_out if is_held_out(record["holdout_key"]) else train).append(record)
    return train, held_out


def holdout_scores(predictor, records: list[dict]) -> dict:
    """The promotion rule's two figures (macro-F1, hyperthyroid recall) and a few more, on labelled records."""
    if not records:
        return {"rows": 0, "macro_f1": None, "recall_hyperthyroid": None}
    metrics = evaluate_model(predictor, records)
    return {
        "rows": metrics["n"],
        "macro_f1": metrics["macro_f1"],
        "recall_hyperthyroid": metrics["recall"]["hyperthyroid"],
        "accuracy": metrics["accuracy"],
        "recall": metrics["recall"],
        "support": metrics["support"],
    }
