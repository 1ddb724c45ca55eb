import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from diagnostics.access import ADMIN, CLINICIAN, DATA_MANAGER

DEMO_USERS = (("demo_clinician", CLINICIAN), ("demo_data_manager", DATA_MANAGER), ("demo_admin", ADMIN))


def passwords_file() -> Path:
    """Where the demo passwords are kept between starts (readable by the owner only)."""
    return Path(settings.THYROWEB_HOME) / "demo-users.txt"


class Command(BaseCommand):
    help = (
        "Create one demo user per role (once: later runs keep their passwords), or with --reset give them new "
        "passwords. Passwords are written to THYROWEB_HOME/demo-users.txt; the admin's is not printed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="give every demo user a new password")

    def handle(self, *args, reset: bool, **options):
        User = get_user_model()
        existing = set(
            User.objects.filter(username__in=[name for name, _ in DEMO_USERS]).values_list("username", flat=True)
        )
        if not reset and len(existing) == len(DEMO_USERS):
            self.stdout.write(
                f"demo users kept with their passwords (in {passwords_file()}; "
                "`manage.py create_demo_users --reset` makes new ones)"
            )
            return
        lines = []
        for username, role in DEMO_USERS:
            if username in existing and not reset:
                continue
            password = secrets.token_urlsafe(12)
            user, _ = User.objects.get_or_create(username=username)
            user.set_password(password)
            user.is_staff = user.is_superuser = role == ADMIN
            user.save()
            user.groups.set([Group.objects.get(name=role)])
            lines.append(f"{role:<13} user {username:<18} password {password}")
            shown = password if role != ADMIN else f"(in {passwords_file()})"
            self.stdout.write(f"{role:<13} user {username:<18} password {shown}")
        self._keep(lines)

    @staticmethod
    def _keep(lines: list[str]) -> None:
        path = passwords_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        kept = {}
        if path.exists():
            kept = {line.split()[2]: line for line in path.read_text().splitlines() if len(line.split()) >= 5}
        kept.update({line.split()[2]: line for line in lines})
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text("".join(f"{line}\n" for line in kept.values()))
