from django.core.management.base import BaseCommand

from diagnostics.roles import ensure_groups


class Command(BaseCommand):
    help = "Create the role groups (clinician, data_manager, admin) if missing."

    def handle(self, *args, **options):
        names = ensure_groups()
        self.stdout.write(f"groups ready: {', '.join(names)}")
