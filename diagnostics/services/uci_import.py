"""Importing the Garvan/UCI thyroid archive: one patient per record id, one panel per record.

The file is read by mlcore's reader, which takes every record through the one intake; the panels are
written by the bulk writer the CSV scoring jobs share (services/bulk_writes.py). They are stored unscored:
the set-up scores them in bulk afterwards (bulk_writes.score_stored_panels).
"""

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from diagnostics.access import known_user
from diagnostics.models import LabPanel
from diagnostics.services.audit import record_event
from diagnostics.services.bulk_writes import PanelRow, copy_available, patient_ids, write_panels
from mlcore.data import RowError, collected_at_from_record_id, read_uci

UCI_PREFIX = "UCI-"


class ImportRejected(Exception):
    """The file has malformed lines and the import was all-or-nothing: nothing was written."""

    def __init__(self, errors: list[RowError]):
        self.errors = errors
        first = errors[0]
        super().__init__(f"{len(errors)} malformed line(s); first: line {first.line}: {first.reason}")


@dataclass
class ImportReport:
    records: int = 0
    created_patients: int = 0
    created_panels: int = 0
    already_present: int = 0
    class_counts: dict[str, int] = field(default_factory=dict)
    rejected: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)


def import_uci(source, *, skip_bad: bool = False, user=None) -> ImportReport:
    """Import a thyroid0387-format file. All or nothing unless ``skip_bad``; re-imports add nothing."""
    result = read_uci(source)
    if result.errors and not skip_bad:
        raise ImportRejected(result.errors)
    report = ImportReport(records=len(result.records), rejected=result.errors, warnings=result.warnings)
    with transaction.atomic():
        present = set(
            LabPanel.objects.filter(source=LabPanel.Source.UCI).values_list("source_ref", flat=True).iterator()
        )
        new = [r for r in result.records if r["record_id"] not in present]
        report.already_present = len(result.records) - len(new)
        fast = copy_available()
        ids, report.created_patients = patient_ids(
            [(UCI_PREFIX + r["record_id"], r["sex"] or "") for r in new], fast=fast
        )
        now = timezone.now()
        author = known_user(user)
        panels = [
            PanelRow(
                patient_id=patient_id,
                values=r,
                source=LabPanel.Source.UCI,
                source_ref=r["record_id"],
                collected_at=collected_at_from_record_id(r["record_id"]) or now,
                diagnosis_raw=r["diagnosis"],
                diagnosis_class=r["label"],
                created_by_id=author.pk if author else None,
            )
            for r, patient_id in zip(new, ids, strict=True)
        ]
        write_panels(panels, fast=fast)
        report.created_panels = len(panels)
        for r in new:
            report.class_counts[r["label"]] = report.class_counts.get(r["label"], 0) + 1
        record_event(
            action="data.import_uci",
            actor=user,
            object_type="labpanel",
            created_panels=report.created_panels,
            created_patients=report.created_patients,
            rejected=len(report.rejected),
        )
    return report
