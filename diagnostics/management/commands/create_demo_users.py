import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from diagnostics.access import ADMIN, CLINICIAN, DATA_MANAGER

DEMO_USERS = (("demo_clinician", CLINICIAN), ("demo_data_manager", DATA_MANAGER), ("demo_admin", ADMIN))


class Command(BaseCommand):
    help = "Create (or reset) one demo user per role with a fresh random password, and print the passwords."

    def handle(self, *args, **options):
        User = get_user_model()
        for username, role in DEMO_USERS:
            password = secrets.token_urlsafe(12)
            user, _ = User.objects.get_or_create(username=username)
            user.set_password(password)
            user.is_staff = role == ADMIN
            user.is_superuser = role == ADMIN
            user.save()
            user.groups.set([Group.objects.get(name=role)])
            self.stdout.write(f"{role:<13} user {username:<18} password {password}")
