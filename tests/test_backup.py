"""`manage.py backup` and `restore`: a backup restored into an empty database holds every row and artefact."""

import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.db import connection

from diagnostics.models import AuditEvent, LabPanel, ModelVersion, Patient, Prediction, ScoringJob, TrainingRun
from diagnostics.services.audit import record_event
from diagnostics.services.backup import table_counts

ROOT = Path(__file__).resolve().parent.parent
backup_db = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    artefact = settings.MEDIA_ROOT / "models" / "backup-test-1" / "weights.npz"
    artefact.parent.mkdir(parents=True)
    artefact.write_bytes(os.urandom(4096))
    return artefact


@pytest.fixture
def records(clinician, data_manager):
    patients = [Patient.objects.create(record_number=f"MRN-BK-{i}", sex="F", notes=f"note {i}") for i in range(5)]
    panels = [LabPanel.objects.create(patient=p, age=40 + i, TSH=1.5 + i, FTI=90) for i, p in enumerate(patients)]
    version = ModelVersion.objects.create(version="backup-test-1", artefact_path="models/backup-test-1")
    for panel in panels:
        Prediction.objects.create(
            panel=panel,
            model_version=version,
            predicted_class="normal",
            p_normal=0.8,
            p_hyperthyroid=0.1,
            p_hypothyroid=0.1,
        )
    TrainingRun.objects.create(started_by=data_manager, result_version=version)
    job = ScoringJob.objects.create(created_by=data_manager, model_version=version)
    job.input_file.save("job-backup.csv", ContentFile(b"age,sex\n41,F\n"))  # a stored file: a database row
    for panel in panels:
        record_event(action="panel.create", actor=clinician, obj=panel)
    return patients


def restore_env(tmp_path: Path, database_url: str, media_root: Path) -> dict:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "THYROWEB_HOME": str(tmp_path / "restore-home"),
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(media_root),
        "SECRET_KEY": "restore-test-not-secret",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


def run_manage(*args, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def postgres_url(db: dict, name: str) -> str:
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{db.get('USER') or 'postgres'}{password}@{host}:{port}/{name}"


def admin_sql(sql: str) -> None:
    """Run CREATE/DROP DATABASE on the server of the test database (outside any transaction)."""
    import psycopg

    db = connection.settings_dict
    with psycopg.connect(postgres_url(db, "postgres"), autocommit=True) as admin:
        admin.execute(sql)


def restored_counts_postgres(url: str) -> tuple[dict[str, int], set[str]]:
    import psycopg

    with psycopg.connect(url) as conn:
        tables = [row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        counts = {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
        numbers = {row[0] for row in conn.execute("SELECT record_number FROM diagnostics_patient")}
    return counts, numbers


def restored_counts_sqlite(path: Path) -> tuple[dict[str, int], set[str]]:
    with sqlite3.connect(path) as conn:
        tables = [
            row[0]
            for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
        ]
        counts = {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
        numbers = {row[0] for row in conn.execute("SELECT record_number FROM diagnostics_patient")}
    return counts, numbers


@pytest.mark.slow
@backup_db
def test_a_backup_restored_into_an_empty_database_has_every_row_and_artefact(records, media, tmp_path):
    archive = tmp_path / "thyroweb.tar.gz"
    call_command("backup", output=archive)
    assert archive.stat().st_mode & 0o077 == 0  # readable by the owner only
    expected = table_counts()
    assert expected["diagnostics_patient"] == 5 and expected["diagnostics_auditevent"] >= 5

    restored_media = tmp_path / "restored-media"
    if connection.vendor == "postgresql":
        name = f"{connection.settings_dict['NAME']}_restore_{uuid.uuid4().hex[:8]}"
        admin_sql(f'CREATE DATABASE "{name}"')
        try:
            url = postgres_url(connection.settings_dict, name)
            result = run_manage("restore", str(archive), env=restore_env(tmp_path, url, restored_media))
            assert result.returncode == 0, result.stderr
            counts, numbers = restored_counts_postgres(url)
        finally:
            admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        target = tmp_path / "restored.sqlite3"
        result = run_manage("restore", str(archive), env=restore_env(tmp_path, f"sqlite:///{target}", restored_media))
        assert result.returncode == 0, result.stderr
        counts, numbers = restored_counts_sqlite(target)

    assert "row counts verified" in result.stdout
    assert {table: counts.get(table) for table in expected} == expected
    assert expected["diagnostics_storedfile"] == 1
    assert numbers == {p.record_number for p in records}
    restored_artefact = restored_media / media.relative_to(media.parents[2])
    assert restored_artefact.read_bytes() == media.read_bytes()


@backup_db
def test_restore_refuses_a_database_that_holds_data_without_force(records, media, tmp_path):
    archive = tmp_path / "thyroweb.tar.gz"
    call_command("backup", output=archive)
    with pytest.raises(CommandError, match="already holds data"):
        call_command("restore", str(archive))
    assert Patient.objects.count() == 5
    assert AuditEvent.objects.filter(action="panel.create").count() == 5


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content, message",
    [
        (os.urandom(2048), "not a backup archive"),
        (b"", "not a backup archive"),
        (b"\x1f\x8b" + os.urandom(512), "not a backup archive"),
    ],
    ids=["random-bytes", "empty", "gzip-magic-then-garbage"],
)
def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path, content, message):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        call_command("restore", str(junk))


@pytest.mark.django_db
def test_restore_refuses_an_archive_without_manifest_and_one_escaping_its_folder(tmp_path):
    (tmp_path / "x.txt").write_text("x")
    plain = tmp_path / "plain.tar.gz"
    with tarfile.open(plain, "w:gz") as archive:
        archive.add(tmp_path / "x.txt", arcname="x.txt")
    with pytest.raises(CommandError, match="manifest.json is missing"):
        call_command("restore", str(plain))

    (tmp_path / "manifest.json").write_text(json.dumps({"format": 1, "engine": connection.vendor, "tables": {}}))
    escaping = tmp_path / "escaping.tar.gz"
    with tarfile.open(escaping, "w:gz") as archive:
        archive.add(tmp_path / "manifest.json", arcname="manifest.json")
        archive.add(tmp_path / "x.txt", arcname="../../escaped.txt")
    with pytest.raises(CommandError, match="cannot be unpacked safely"):
        call_command("restore", str(escaping), force=True)
    assert not (tmp_path.parent.parent / "escaped.txt").exists()
    assert Patient.objects.count() == 0
