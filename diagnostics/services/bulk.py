"""PostgreSQL COPY for the bulk writes of batch scoring: several times faster than bulk_create for 10^5 rows.

Rows are dicts of field attnames; fields left out get the model's default. Constraints
(unique, check, foreign keys) are enforced by the database as with any insert.
"""

from django.db import connection, models
from django.utils import timezone
from psycopg.types.json import Jsonb

_REQUIRED = object()


def _default(field: models.Field, now):
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return now
    if field.has_default():
        return field.get_default()
    if field.null:
        return None
    if field.empty_strings_allowed:
        return ""
    return _REQUIRED


def copy_rows(model: type[models.Model], rows: list[dict], *, with_ids: bool = False) -> list[int]:
    """Insert rows with COPY; with_ids: take ids from the table's sequence first and return them in row order."""
    if not rows:
        return []
    pk = model._meta.pk
    fields = [f for f in model._meta.concrete_fields if with_ids or f is not pk]
    now = timezone.now()
    defaults = [_default(f, now) for f in fields]
    json_fields = {i for i, f in enumerate(fields) if isinstance(f, models.JSONField)}
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        ids: list[int] = []
        if with_ids:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [model._meta.db_table, pk.column, len(rows)],
            )
            ids = [row[0] for row in cursor.fetchall()]
        columns = ", ".join(quote(f.column) for f in fields)
        statement = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
        # The psycopg cursor itself, under Django's wrapper so that errors are Django's (IntegrityError...).
        with connection.wrap_database_errors, cursor.cursor.copy(statement) as copy:
            for index, row in enumerate(rows):
                if with_ids:
                    row = {**row, pk.attname: ids[index]}
                values = [row.get(f.attname, default) for f, default in zip(fields, defaults, strict=True)]
                for i in json_fields:
                    values[i] = Jsonb(values[i])
                if _REQUIRED in values:
                    missing = [f.attname for f, v in zip(fields, values, strict=True) if v is _REQUIRED]
                    raise ValueError(f"{model.__name__} row without a value for {', '.join(missing)}")
                copy.write_row(values)
    return ids
