from django.contrib import admin, messages
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from diagnostics.models import AuditEvent, LabPanel, ModelVersion, Patient, Prediction, ScoringJob, TrainingRun
from diagnostics.services.audit import record_event
from diagnostics.services.patients import delete_patient
from diagnostics.services.registry import PromotionRefused, activate_model_version, retire_model_version
from mlcore.schema import HISTORY_FLAGS, LAB_TESTS

# What the model reads from a panel: fixed once the panel is scored.
SCORED_INPUTS = ("age", *HISTORY_FLAGS, "referral_source", *LAB_TESTS)


class AuditedAdmin(admin.ModelAdmin):
    """Changes made in the admin land in the audit trail too (the changed field names, never their values)."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        action = f"{obj._meta.model_name}.{'change' if change else 'create'}"
        record_event(action=action, request=request, obj=obj, via="admin", fields=sorted(form.changed_data))

    def delete_model(self, request, obj):
        record_event(action=f"{obj._meta.model_name}.delete", request=request, obj=obj, via="admin")
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            record_event(action=f"{obj._meta.model_name}.delete", request=request, obj=obj, via="admin")
        super().delete_queryset(request, queryset)


class LabPanelInline(admin.TabularInline):
    model = LabPanel
    fields = ("collected_at", "age", *LAB_TESTS, "diagnosis_class", "source")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False


@admin.register(Patient)
class PatientAdmin(AuditedAdmin):
    list_display = ("record_number", "sex", "date_of_birth", "created_at", "deleted_at")
    list_filter = ("sex", ("deleted_at", admin.EmptyFieldListFilter))
    search_fields = ("=record_number", "record_number")
    readonly_fields = ("created_at", "updated_at", "deleted_at")
    inlines = [LabPanelInline]
    show_full_result_count = False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET":
            record_event(
                action="patient.view", request=request, object_type="patient", object_id=object_id, via="admin"
            )
        return super().change_view(request, object_id, form_url, extra_context)

    # Deleting a patient is a soft delete here too: the row and its audit trail stay.
    def delete_model(self, request, obj):
        delete_patient(patient=obj, user=request.user, request=request)

    def delete_queryset(self, request, queryset):
        for patient in queryset:
            delete_patient(patient=patient, user=request.user, request=request)


@admin.register(LabPanel)
class LabPanelAdmin(AuditedAdmin):
    list_display = ("id", "patient", "collected_at", "TSH", "T3", "TT4", "FTI", "FT4", "diagnosis_class", "source")
    list_filter = ("diagnosis_class", "source", "referral_source", ("collected_at", admin.DateFieldListFilter))
    search_fields = ("=patient__record_number", "diagnosis_raw")
    date_hierarchy = "collected_at"
    raw_id_fields = ("patient", "created_by")
    # The values as the lab sent them are a record of what came in: not edited afterwards.
    readonly_fields = ("created_at", "updated_at", "received")
    list_select_related = ("patient",)
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        # A panel comes in through the one intake (the lab form, the API, files, FHIR), never added here.
        return False

    # A scored panel keeps the values it was scored on: a correction is a new panel (its own prediction,
    # both in the audit trail), never an edit under an old prediction.
    def get_readonly_fields(self, request, obj=None):
        fields = [*super().get_readonly_fields(request, obj)]
        if obj is not None and obj.predictions.exists():
            fields = ["values_locked", *fields, *SCORED_INPUTS]
        return fields

    @admin.display(description=gettext_lazy("values"))
    def values_locked(self, panel: LabPanel) -> str:
        return _("This panel was scored: its values cannot be changed. To correct a value, enter a new panel.")


@admin.register(ModelVersion)
class ModelVersionAdmin(AuditedAdmin):
    list_display = ("version", "status", "created_at", "activated_at", "macro_f1")
    list_filter = ("status",)
    search_fields = ("version",)
    # Status changes only through the promotion rule (the actions below, the Models page, the API).
    readonly_fields = (
        "status", "created_at", "activated_at", "activated_by", "metrics", "model_card", "artefact_path",
    )  # fmt: skip
    actions = ["activate", "retire"]

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.status == ModelVersion.Status.ACTIVE:
            return False  # clinicians would be left with no model
        return super().has_delete_permission(request, obj)

    @admin.action(description=gettext_lazy("Activate (promotion rule: at least as good as the active model)"))
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one version to activate."), messages.ERROR)
            return
        version = queryset.get()
        try:
            activate_model_version(version=version, user=request.user, request=request)
        except PromotionRefused as refused:
            hint = _("To activate it anyway, give an override reason on its page under Models.")
            self.message_user(request, f"{refused} {hint}", messages.ERROR)
        else:
            self.message_user(request, _("%(version)s is now the active model.") % {"version": version.version})

    @admin.action(description=gettext_lazy("Retire"))
    def retire(self, request, queryset):
        for version in queryset:
            try:
                retire_model_version(version=version, user=request.user, request=request)
            except PromotionRefused as refused:
                self.message_user(request, str(refused), messages.ERROR)
            else:
                self.message_user(request, _("%(version)s is retired.") % {"version": version.version})

    @admin.display(description="macro-F1")
    def macro_f1(self, version: ModelVersion):
        value = version.metrics.get("macro_f1")
        return f"{value:.3f}" if isinstance(value, (int, float)) else "-"


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Prediction)
class PredictionAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "panel",
        "model_version",
        "predicted_class",
        "p_hypothyroid",
        "p_hyperthyroid",
        "uncertain",
        "created_at",
    )
    list_filter = ("predicted_class", "uncertain", "model_version")
    search_fields = ("=panel__patient__record_number",)
    list_select_related = ("panel__patient", "model_version")
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor_username", "action", "object_type", "object_id", "ip_address")
    list_filter = ("action", "object_type")
    search_fields = ("actor_username", "=object_id", "action")
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(TrainingRun)
class TrainingRunAdmin(AuditedAdmin):
    list_display = ("id", "status", "progress", "val_macro_f1", "result_version", "created_at", "finished_at")
    list_filter = ("status",)
    readonly_fields = [f.name for f in TrainingRun._meta.fields]


@admin.register(ScoringJob)
class ScoringJobAdmin(AuditedAdmin):
    list_display = ("id", "status", "original_name", "accepted_rows", "rejected_rows", "scored_rows", "created_at")
    list_filter = ("status",)
    readonly_fields = [f.name for f in ScoringJob._meta.fields]
