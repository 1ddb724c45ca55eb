"""A job's working files: its accepted rows in chunks, and each chunk's part of the results.

Files live beside the uploaded file in the file storage (the database by default, diagnostics/storage.py),
so any worker on any machine reads them: ``<upload>.chunks.json`` (the chunks' sizes),
``<upload>.chunk<i>.json`` (a chunk's rows, written at upload) and ``<upload>.results<i>.csv`` (a chunk's
results rows, written when it is scored). They hold record numbers and lab values: deleted when the job ends.
"""

from __future__ import annotations

import json
import os

from django.conf import settings
from django.core.files.base import ContentFile

from diagnostics.models import ScoringJob
from diagnostics.services.scoring_jobs.rows import JobRow


class ChunkMissing(Exception):
    """A chunk's rows are no longer stored."""


def _chunks_name(job: ScoringJob) -> str:
    return f"{job.input_file.name}.chunks.json"


def _chunk_name(job: ScoringJob, index: int) -> str:
    return f"{job.input_file.name}.chunk{index}.json"


def part_name(job: ScoringJob, index: int) -> str:
    return f"{job.input_file.name}.results{index}.csv"


def overwrite(storage, name: str, content: bytes) -> None:
    if storage.exists(name):
        storage.delete(name)
    storage.save(name, ContentFile(content))


def save_chunks(job: ScoringJob, uci: bool, rows: list[JobRow]) -> list[int]:
    """Keep the accepted rows beside the uploaded file, a file per THYROWEB_SCORING_CHUNK_ROWS rows, and a
    list of the chunks' sizes (returned): the workers neither parse nor check the upload again."""
    storage = job.input_file.storage
    size = max(1, settings.THYROWEB_SCORING_CHUNK_ROWS)
    sizes = []
    for index, start in enumerate(range(0, len(rows), size)):
        part = [row.to_json() for row in rows[start : start + size]]
        overwrite(storage, _chunk_name(job, index), json.dumps({"uci": uci, "rows": part}).encode())
        sizes.append(len(part))
    overwrite(storage, _chunks_name(job), json.dumps(sizes).encode())
    return sizes


def stored_chunk_sizes(job: ScoringJob) -> list[int] | None:
    """The sizes of the chunks saved at upload, or None when they are not (all) stored any more."""
    storage = job.input_file.storage
    try:
        with storage.open(_chunks_name(job), "rb") as handle:
            sizes = json.loads(handle.read())
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(sizes, list) or not all(storage.exists(_chunk_name(job, i)) for i in range(len(sizes))):
        return None
    return sizes


def read_chunk(job: ScoringJob, index: int) -> tuple[bool, list[JobRow]]:
    """(is the upload a UCI file, the chunk's rows); ChunkMissing when its file is gone."""
    try:
        with job.input_file.storage.open(_chunk_name(job, index), "rb") as handle:
            payload = json.loads(handle.read())
    except (FileNotFoundError, ValueError):
        raise ChunkMissing(index) from None
    return payload["uci"], [JobRow(**row) for row in payload["rows"]]


def read_part(job: ScoringJob, index: int) -> bytes | None:
    """A chunk's results rows as written when it was scored, or None when the part is gone."""
    try:
        with job.input_file.storage.open(part_name(job, index), "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def delete_working_files(job: ScoringJob) -> None:
    """Delete the job's chunk and results-part files (they hold record numbers and lab values)."""
    if not job.input_file:
        return
    storage = job.input_file.storage
    folder, base = os.path.split(job.input_file.name)
    _, files = storage.listdir(folder)
    for name in files:
        if name.startswith(f"{base}.chunk") or name.startswith(f"{base}.results"):
            storage.delete(f"{folder}/{name}" if folder else name)
