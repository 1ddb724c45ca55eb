"""Creating the role groups; shared by the data migration and the setup_roles command."""

from diagnostics.access import ROLES


def ensure_groups(group_model=None) -> list[str]:
    if group_model is None:
        from django.contrib.auth.models import Group

        group_model = Group
    for name in ROLES:
        group_model.objects.get_or_create(name=name)
    return list(ROLES)
