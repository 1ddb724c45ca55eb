from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from diagnostics.models import LabPanel
from diagnostics.roles import ensure_groups
from diagnostics.services.bulk_writes import score_stored_panels
from diagnostics.services.jobs import ensure_heal_schedule
from diagnostics.services.registry import active_model_version


class Command(BaseCommand):
    help = (
        "First-run set-up after migrate: groups, the job healer's schedule, demo users, the shipped model, "
        "and the UCI data if present."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-demo-users", action="store_true")

    def handle(self, *args, no_demo_users: bool, **options):
        ensure_groups()
        ensure_heal_schedule()
        if not no_demo_users:
            call_command("create_demo_users", stdout=self.stdout)
        version = active_model_version()
        self.stdout.write(f"active model version: {version.version}")
        data_file = self.find_data_file(Path(settings.THYROWEB_DATA_DIR))
        if data_file is None:
            self.stdout.write(
                f"no thyroid0387 data in {settings.THYROWEB_DATA_DIR}: the app starts empty. To load the UCI "
                "archive, set THYROWEB_DATA_DIR to a folder holding thyroid0387.data (or the dev subset), or run "
                "`.venv/bin/python manage.py fetch_uci`, then start again"
            )
        elif LabPanel.objects.filter(source=LabPanel.Source.UCI).exists():
            self.stdout.write("UCI data already imported")
        else:
            call_command("import_uci", str(data_file), "--skip-bad", stdout=self.stdout)
        scored = score_stored_panels(version=version)
        self.stdout.write(f"{scored} stored panels scored with {version.version}")

    @staticmethod
    def find_data_file(folder: Path) -> Path | None:
        for name in ("thyroid0387.data", "thyroid0387-dev.data"):
            if (folder / name).exists():
                return folder / name
        return None
