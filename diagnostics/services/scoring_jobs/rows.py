"""One accepted row of an uploaded file, as the job keeps it between the upload and the workers."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime

from django.utils import timezone

from diagnostics.services.uci_import import UCI_PREFIX
from mlcore.data import collected_at_from_record_id
from mlcore.intake import Panel
from mlcore.schema import INPUT_FIELDS


def file_record_number(record: dict, *, uci: bool) -> str | None:
    """The patient's record number a file gives for a row: its record_number (or record_id) column, a UCI
    file's ``UCI-<record id>``; None when the row has none (the job makes one for its line)."""
    number = record.get("record_number") or record.get("record_id")
    if not number:
        return None
    return UCI_PREFIX + number if uci else number


@dataclass
class JobRow:
    """A row read and checked at upload (mlcore.data's readers, through the one intake): its line, the
    record number the file gives (UCI files: ``UCI-<record id>``), the clean values and what was received
    with them, and the file's diagnosis and collection time when given."""

    line: int
    values: dict
    received: dict = field(default_factory=dict)
    record_number: str | None = None
    record_id: str | None = None
    diagnosis: str | None = None
    label: str | None = None
    collected_at: str | None = None

    @classmethod
    def from_record(cls, record: dict, *, uci: bool) -> JobRow:
        """A reader's record (mlcore.data) as a job row."""
        return cls(
            line=record["line"],
            values={name: record[name] for name in INPUT_FIELDS},
            received=record.get("received") or {},
            record_number=file_record_number(record, uci=uci),
            record_id=record.get("record_id"),
            diagnosis=record.get("diagnosis"),
            label=record.get("label"),
            collected_at=record.get("collected_at"),
        )

    def to_json(self) -> dict:
        # Field by field: dataclasses.asdict copies every nested dict deeply, five times slower for a chunk.
        return {name: getattr(self, name) for name in _FIELDS}

    @property
    def panel(self) -> Panel:
        """The clean panel to score (the row was read by the intake at upload)."""
        return Panel(self.values, self.received)

    def patient_number(self, job_id: int) -> str:
        """The patient's record number: given in the file, or one made for the job's line."""
        return self.record_number or f"JOB{job_id}-LINE{self.line}"

    def source_ref(self, job_id: int) -> str:
        """The key of the row's panel, so that a chunk stored twice adds nothing."""
        return f"job{job_id}:line{self.line}"

    def collected(self, *, uci: bool, default: datetime) -> datetime:
        """When the sample was taken: the Garvan record id's date (UCI files), the file's collected_at, or
        ``default``."""
        if uci:
            return collected_at_from_record_id(self.record_id or "") or default
        if self.collected_at:
            moment = datetime.fromisoformat(self.collected_at)
            return moment if timezone.is_aware(moment) else timezone.make_aware(moment)
        return default


_FIELDS = tuple(spec.name for spec in fields(JobRow))
