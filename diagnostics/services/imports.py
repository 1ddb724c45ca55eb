"""Importing the Garvan/UCI thyroid archive: one patient per record id, one panel per record."""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from diagnostics.models import LabPanel, Patient
from diagnostics.services.audit import record_event
from diagnostics.services.panels import panel_values
from mlcore.data import RowError, read_uci

UCI_PREFIX = "UCI-"
BATCH = 2000


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


def collected_at_from_record_id(record_id: str) -> datetime | None:
    """Garvan record ids start with the collection date as YYMMDD (840801013 = 1984-08-01)."""
    try:
        day = datetime.strptime(record_id[:6], "%y%m%d")
    except ValueError:
        return None
    return day.replace(hour=12, tzinfo=UTC)


def import_uci(source, *, skip_bad: bool = False, user=None) -> ImportReport:
    """Import a thyroid0387-format file. All or nothing unless ``skip_bad``; re-imports add nothing."""
    result = read_uci(source)
    if result.errors and not skip_bad:
        raise ImportRejected(result.errors)
    report = ImportReport(records=len(result.records), rejected=result.errors, warnings=result.warnings)
    records = result.records
    with transaction.atomic():
        present = set(
            LabPanel.objects.filter(source=LabPanel.Source.UCI).values_list("source_ref", flat=True).iterator()
        )
        new = [r for r in records if r["record_id"] not in present]
        report.already_present = len(records) - len(new)
        numbers = {UCI_PREFIX + r["record_id"]: r for r in new}
        existing = set(Patient.objects.filter(record_number__in=numbers).values_list("record_number", flat=True))
        to_create = [
            Patient(record_number=number, sex=r["sex"] or "") for number, r in numbers.items() if number not in existing
        ]
        Patient.objects.bulk_create(to_create, batch_size=BATCH)
        report.created_patients = len(to_create)
        patient_ids = dict(Patient.objects.filter(record_number__in=numbers).values_list("record_number", "id"))
        now = timezone.now()
        panels = [
            LabPanel(
                patient_id=patient_ids[UCI_PREFIX + r["record_id"]],
                collected_at=collected_at_from_record_id(r["record_id"]) or now,
                source=LabPanel.Source.UCI,
                source_ref=r["record_id"],
                diagnosis_raw=r["diagnosis"],
                diagnosis_class=r["label"],
                created_by=user,
                **panel_values(r),
            )
            for r in new
        ]
        LabPanel.objects.bulk_create(panels, batch_size=BATCH)
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
