from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from diagnostics.services.backup import BackupError, create_backup


class Command(BaseCommand):
    help = (
        "Back up the database (pg_dump for PostgreSQL, a copy for SQLite; it holds the uploads, job files and "
        "trained models) and MEDIA_ROOT (files of earlier versions) into one .tar.gz archive."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output", "-o", type=Path, help="archive path (default: THYROWEB_HOME/backups/thyroweb-<time>.tar.gz)"
        )

    def handle(self, *args, output: Path | None, **options):
        try:
            report = create_backup(output)
        except BackupError as problem:
            raise CommandError(str(problem)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"backup written to {report.path}: {report.engine} database, {len(report.tables)} tables, "
                f"{report.rows} rows, {report.media_files} media files"
            )
        )
