"""Storing a chunk of a ``store`` job: each row a panel of its patient (found by record number, else created)
with its prediction, through the bulk writer the UCI import shares (services/bulk_writes.py)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from diagnostics.models import LabPanel, ModelVersion, ScoringJob
from diagnostics.services.bulk_writes import (
    PanelRow,
    copy_available,
    patient_ids,
    stored_panel_refs,
    write_panels,
    write_predictions,
)
from diagnostics.services.scoring_jobs.rows import JobRow
from mlcore.predictor import PredictionResult


@transaction.atomic
def store_chunk(
    job: ScoringJob,
    version: ModelVersion,
    rows: list[JobRow],
    results: list[PredictionResult],
    *,
    uci: bool,
    careful: bool = False,
) -> int:
    """Store one chunk's rows and their predictions in one transaction; the number of patients created.

    With PostgreSQL it is written with COPY, assuming none of its rows is stored yet (true unless another
    chunk creates the same patient at the same moment, or a worker died after storing it: the IntegrityError
    then makes the caller run it again with ``careful``, which skips what exists).
    """
    fast = copy_available() and not careful
    wanted = [(row.patient_number(job.pk), row.values.get("sex") or "") for row in rows]
    generated = {row.patient_number(job.pk) for row in rows if not row.record_number}
    ids, created_patients = patient_ids(wanted, new=generated, fast=fast)
    refs = [row.source_ref(job.pk) for row in rows]
    panel_ids = {} if fast else stored_panel_refs(LabPanel.Source.CSV, refs)
    now = timezone.now()
    new = [
        PanelRow(
            patient_id=patient_id,
            values=row.values,
            source=LabPanel.Source.CSV.value,
            source_ref=ref,
            collected_at=row.collected(uci=uci, default=now),
            diagnosis_raw=row.diagnosis or "",
            diagnosis_class=row.label or "",
            received=row.received,
            created_by_id=job.created_by_id,
        )
        for row, patient_id, ref in zip(rows, ids, refs, strict=True)
        if ref not in panel_ids
    ]
    panel_ids.update(zip((panel.source_ref for panel in new), write_panels(new, fast=fast), strict=True))
    write_predictions(
        [panel_ids[ref] for ref in refs], results, version=version, requested_by_id=job.created_by_id, fast=fast
    )
    return created_patients
