"""Backups: the database (pg_dump, or a SQLite copy) and MEDIA_ROOT in one archive.

Uploads, job files and trained model archives are rows of the database (StoredFile), so the dump holds
them; MEDIA_ROOT adds the files that earlier versions kept on disk (and the local model cache).

An archive is a ``.tar.gz`` holding ``manifest.json`` (engine, time, the row
count of every table), ``database.dump`` (PostgreSQL custom format) or
``database.sqlite3``, and ``media/``. Restoring checks every table's row count
against the manifest.
"""

import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PG_DUMP = "database.dump"
SQLITE_COPY = "database.sqlite3"
MEDIA = "media"


class BackupError(Exception):
    """A backup or restore that could not be done; the message says why."""


@dataclass
class BackupReport:
    path: Path
    engine: str
    tables: dict[str, int] = field(default_factory=dict)
    media_files: int = 0

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def _engine() -> str:
    vendor = connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        raise BackupError(f"backups support PostgreSQL and SQLite, not {vendor}")
    return vendor


def table_counts() -> dict[str, int]:
    """Rows in every table of the database, by table name."""
    counts = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


def _pg_command(program: str) -> tuple[list[str], dict]:
    """Connection options for pg_dump/pg_restore; the password travels in the environment, never argv."""
    db = connection.settings_dict
    if shutil.which(program) is None:
        raise BackupError(f"{program} was not found: install the PostgreSQL client (apt-get install postgresql-client)")
    args = [program, "--no-owner", "--no-privileges", "--dbname", db["NAME"]]
    if db.get("HOST"):
        args += ["--host", db["HOST"]]
    if db.get("PORT"):
        args += ["--port", str(db["PORT"])]
    if db.get("USER"):
        args += ["--username", db["USER"]]
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return args, env


def _run(args: list[str], env: dict) -> None:
    result = subprocess.run(args, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{args[0]} failed: {result.stderr.strip()[-2000:]}")


def _dump_database(engine: str, folder: Path) -> None:
    if engine == "postgresql":
        args, env = _pg_command("pg_dump")
        _run([*args, "--format=custom", "--file", str(folder / PG_DUMP)], env)
    else:
        connection.ensure_connection()
        target = sqlite3.connect(folder / SQLITE_COPY)
        try:
            connection.connection.backup(target)  # consistent even while others write
        finally:
            target.close()


def _media_root() -> Path:
    return Path(settings.MEDIA_ROOT)


def create_backup(output: Path | None = None) -> BackupReport:
    """Write a backup archive of the database and MEDIA_ROOT; return what it holds."""
    engine = _engine()
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    output = Path(output or Path(settings.THYROWEB_HOME) / "backups" / f"thyroweb-{stamp}.tar.gz")
    output.parent.mkdir(parents=True, exist_ok=True)
    report = BackupReport(path=output, engine=engine, tables=table_counts())
    with tempfile.TemporaryDirectory(prefix="thyroweb-backup-") as tmp:
        folder = Path(tmp)
        _dump_database(engine, folder)
        manifest = {
            "format": FORMAT_VERSION,
            "engine": engine,
            "created_at": timezone.now().isoformat(),
            "tables": report.tables,
        }
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))
        partial = output.with_name(output.name + ".partial")
        with tarfile.open(partial, "w:gz") as archive:
            archive.add(folder / MANIFEST, arcname=MANIFEST)
            database = PG_DUMP if engine == "postgresql" else SQLITE_COPY
            archive.add(folder / database, arcname=database)
            media = _media_root()
            if media.is_dir():
                for path in sorted(media.rglob("*")):
                    if path.is_file() and not path.is_symlink():
                        archive.add(path, arcname=f"{MEDIA}/{path.relative_to(media).as_posix()}")
                        report.media_files += 1
        os.chmod(partial, 0o600)  # patient data: readable by the owner only
        partial.replace(output)  # never leave a half-written archive under the final name
    return report


def _read_manifest(archive: tarfile.TarFile) -> dict:
    try:
        member = archive.extractfile(MANIFEST)
    except KeyError:
        raise BackupError("not a ThyroWeb backup: manifest.json is missing") from None
    manifest = json.loads(member.read())
    if manifest.get("format") != FORMAT_VERSION:
        raise BackupError(f"backup format {manifest.get('format')!r} is not supported (expected {FORMAT_VERSION})")
    return manifest


def database_is_empty() -> bool:
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        if "django_migrations" not in tables:
            return True
        for table in tables:
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {connection.ops.quote_name(table)})")
            if cursor.fetchone()[0] and table != "django_migrations":
                return False
    return True


def _restore_database(engine: str, folder: Path) -> None:
    if engine == "postgresql":
        args, env = _pg_command("pg_restore")
        _run([*args, "--clean", "--if-exists", "--single-transaction", "--exit-on-error", str(folder / PG_DUMP)], env)
    else:
        connection.ensure_connection()
        source = sqlite3.connect(folder / SQLITE_COPY)
        try:
            source.backup(connection.connection)
        finally:
            source.close()
    connections.close_all()


def _extract_safely(archive: tarfile.TarFile, folder: Path) -> None:
    """Unpack only plain files and folders inside ``folder``: no absolute path, no '..', no link or device.

    Checked here because Pythons before 3.11.4 (Debian 12's 3.11.2) have no extraction filter."""
    for member in archive.getmembers():
        name = Path(member.name)
        if name.is_absolute() or ".." in name.parts or not (member.isfile() or member.isdir()):
            raise tarfile.TarError(f"{member.name!r} is not a plain file or folder inside the archive")
    if hasattr(tarfile, "data_filter"):
        archive.extractall(folder, filter="data")
    else:  # pragma: no cover (old Python: the members were checked above)
        archive.extractall(folder)


def restore_backup(path: Path, *, force: bool = False) -> BackupReport:
    """Restore an archive into this database and MEDIA_ROOT; refuse a database holding data unless ``force``."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    engine = _engine()
    try:
        archive = tarfile.open(path, "r:gz")
    except (tarfile.TarError, OSError) as problem:
        raise BackupError(f"{path} is not a backup archive: {problem}") from None
    with archive, tempfile.TemporaryDirectory(prefix="thyroweb-restore-") as tmp:
        manifest = _read_manifest(archive)
        if manifest["engine"] != engine:
            raise BackupError(f"this backup is of a {manifest['engine']} database; the configured one is {engine}")
        if not force and not database_is_empty():
            raise BackupError("the database already holds data: restore into an empty database, or pass --force")
        folder = Path(tmp)
        try:
            _extract_safely(archive, folder)
        except (tarfile.TarError, OSError) as problem:
            raise BackupError(f"{path} cannot be unpacked safely: {problem}") from None
        _restore_database(engine, folder)
        report = BackupReport(path=path, engine=engine, tables=table_counts())
        media_source = folder / MEDIA
        if media_source.is_dir():
            media = _media_root()
            for source in sorted(media_source.rglob("*")):
                if source.is_file():
                    target = media / source.relative_to(media_source)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, target)
                    report.media_files += 1
    missing = {
        table: (expected, report.tables.get(table))
        for table, expected in manifest["tables"].items()
        if report.tables.get(table) != expected
    }
    if missing:
        raise BackupError(f"restored row counts differ from the backup (table: expected, found): {missing}")
    return report
