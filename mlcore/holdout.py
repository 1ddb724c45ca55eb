"""The fixed held-out split: the one rule deciding which labelled records no model is ever trained on.

A record is held out when the first 4 bytes of sha256 of its key, read as a
big-endian integer, fall in the first HOLDOUT_PERCENT of 100 buckets. The key
depends only on the record (its UCI record id, or a key given by the caller such
as a database panel id), so the shipped model, every retrained candidate and the
promotion check all leave out, and compare on, the same rows.
"""

from __future__ import annotations

import hashlib
import math

HOLDOUT_PERCENT = 20
SPLIT_DESCRIPTION = f"fixed hash held-out split: {HOLDOUT_PERCENT}% of records by sha256 of their id"


def _text(value) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def uci_key(record_id: str) -> str:
    """The key of a UCI thyroid0387 record, the same whether it comes from a file or from the database."""
    return f"uci:{record_id}"


def holdout_key(record) -> str | None:
    """The record's "holdout_key" if it has one, else "uci:<record_id>", else None (no stable id)."""
    key = _text(record.get("holdout_key"))
    if key:
        return key
    record_id = _text(record.get("record_id"))
    return uci_key(record_id) if record_id else None


def is_held_out(key: str) -> bool:
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < HOLDOUT_PERCENT
