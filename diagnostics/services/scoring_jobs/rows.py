"""One accepted row of an uploaded file, as the job keeps it between the upload and the workers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.utils import timezone

from diagnostics.services.uci_import import UCI_PREFIX
from mlcore.data import collected_at_from_record_id
from mlcore.intake import Panel
from mlcore.schema import INPUT_FIELDS


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
        number = record.get("record_number") or record.get("record_id")
        return cls(
            line=record["line"],
            values={name: record[name] for name in INPUT_FIELDS},
            received=record.get("received") or {},
            record_number=(UCI_PREFIX + number if uci else number) if number else None,
            record_id=record.get("record_id"),
            diagnosis=record.get("diagnosis"),
            label=record.get("label"),
            collected_at=record.get("collected_at"),
        )

    def to_json(self) -> dict:
        return asdict(self)

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
