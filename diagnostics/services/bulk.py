"""PostgreSQL COPY for the bulk writes of batch scoring: several times faster than bulk_create for 10^5 rows.

Rows are tuples of the values of named fields; the other fields get the model's
default. Constraints (unique, check, foreign keys) are enforced by the database
as with any insert, and errors are Django's (IntegrityError...).
"""

import json
from collections.abc import Sequence

from django.db import connection, models
from django.utils import timezone


def _default(field: models.Field, now):
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return now
    if field.has_default():
        value = field.get_default()
    elif field.null:
        value = None
    elif field.empty_strings_allowed:
        value = ""
    else:
        raise ValueError(f"{field.model.__name__}.{field.attname} has no default: give its value")
    return json.dumps(value) if isinstance(field, models.JSONField) else value


def copy_rows(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[tuple], *, with_ids: bool = False
) -> list[int]:
    """Insert rows (tuples of the ``columns`` attnames) with COPY.

    with_ids: take ids from the table's sequence first and return them in row order.
    """
    if not rows:
        return []
    meta = model._meta
    named = [meta.get_field(name) for name in columns]
    others = [f for f in meta.concrete_fields if f not in named and f is not meta.pk]
    now = timezone.now()
    extras = tuple(_default(f, now) for f in others)
    json_positions = [i for i, f in enumerate(named) if isinstance(f, models.JSONField)]
    quote = connection.ops.quote_name
    fields = ([meta.pk] if with_ids else []) + named + others
    statement = f"COPY {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) FROM STDIN"
    with connection.cursor() as cursor:
        ids: list[int] = []
        if with_ids:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, meta.pk.column, len(rows)],
            )
            ids = [row[0] for row in cursor.fetchall()]
        # The psycopg cursor itself, under Django's wrapper so that errors are Django's.
        with connection.wrap_database_errors, cursor.cursor.copy(statement) as copy:
            for index, row in enumerate(rows):
                if json_positions:  # JSON as text, which the server parses: several times cheaper than Jsonb
                    row = list(row)
                    for i in json_positions:  # None in a nullable JSON column is SQL NULL, as bulk_create writes it
                        row[i] = None if row[i] is None and named[i].null else json.dumps(row[i])
                    row = tuple(row)
                copy.write_row(((ids[index],) if with_ids else ()) + row + extras)
    return ids
