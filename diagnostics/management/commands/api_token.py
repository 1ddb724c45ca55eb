"""Create or revoke a user's API token: ``api_token create USER`` / ``api_token revoke USER``."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.authtoken.models import Token

from diagnostics.access import user_role
from diagnostics.services.audit import record_event


class Command(BaseCommand):
    help = "Create (print) or revoke the API token of a user. Tokens can also be managed in the admin."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["create", "revoke"])
        parser.add_argument("username")
        parser.add_argument(
            "--replace", action="store_true", help="With create: replace an existing token (the old one stops working)."
        )

    @transaction.atomic
    def handle(self, *args, action, username, replace, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no user {username!r}.")
        existing = Token.objects.filter(user=user).first()
        if action == "revoke":
            if existing is None:
                raise CommandError(f"{username} has no API token.")
            existing.delete()
            record_event(action="api_token.revoke", object_type="user", object_id=str(user.pk))
            self.stdout.write(f"Revoked the API token of {username}.")
            return
        if not user.is_active:
            raise CommandError(f"{username} is inactive; activate the account first.")
        if existing is not None:
            if not replace:
                raise CommandError(f"{username} already has an API token; use --replace to issue a new one.")
            existing.delete()
        token = Token.objects.create(user=user)
        record_event(action="api_token.create", object_type="user", object_id=str(user.pk), replaced=bool(existing))
        if user_role(user) is None:
            self.stderr.write(f"Warning: {username} has no role; every API call will be refused (403).")
        self.stdout.write(token.key)
