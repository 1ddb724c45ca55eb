from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from diagnostics.services.backup import BackupError, restore_backup


class Command(BaseCommand):
    help = "Restore a backup made by `manage.py backup` into an empty database and MEDIA_ROOT, then verify every table."

    def add_arguments(self, parser):
        parser.add_argument("archive", type=Path, help="a .tar.gz written by `manage.py backup`")
        parser.add_argument(
            "--force", action="store_true", help="replace a database that already holds data (its data is lost)"
        )

    def handle(self, *args, archive: Path, force: bool, **options):
        try:
            report = restore_backup(archive, force=force)
        except BackupError as problem:
            raise CommandError(str(problem)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"restored {report.path}: {len(report.tables)} tables, {report.rows} rows (row counts verified), "
                f"{report.media_files} media files"
            )
        )
