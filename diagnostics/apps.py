from django.apps import AppConfig


class DiagnosticsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "diagnostics"
    verbose_name = "ThyroWeb diagnostics"

    def ready(self) -> None:
        # signals connects the login audit receivers; tasks registers the tasks that services queue by name.
        from diagnostics import signals, tasks  # noqa: F401
