from django.apps import AppConfig


class DiagnosticsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "diagnostics"
    verbose_name = "ThyroWeb diagnostics"

    def ready(self) -> None:
        from diagnostics import signals  # noqa: F401  (connects the login audit receivers)
