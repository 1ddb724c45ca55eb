"""Creating the role groups; shared by the data migration and the setup_roles command."""

from django.contrib.auth.models import Group

from diagnostics.access import ROLES


def ensure_groups(group_model=None) -> list[str]:
    """The role groups, created if missing (``group_model``: the migration's historical Group)."""
    if group_model is None:
        group_model = Group
    for name in ROLES:
        group_model.objects.get_or_create(name=name)
    return list(ROLES)
