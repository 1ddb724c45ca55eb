from django.db import migrations


def create_groups(apps, schema_editor):
    from diagnostics.roles import ensure_groups

    ensure_groups(apps.get_model("auth", "Group"))


class Migration(migrations.Migration):
    dependencies = [("diagnostics", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
