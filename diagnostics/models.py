"""ThyroWeb's domain objects: patients, lab panels, model versions, predictions, jobs and the audit trail."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mlcore import rules
from mlcore.schema import AGE_MAX, AGE_MIN, CLASSES, HISTORY_FLAGS, LAB_TESTS, REFERRAL_SOURCES, InputError, check_value

CLASS_CHOICES = [(name, name) for name in CLASSES]
DIAGNOSIS_CLASS_CHOICES = [*CLASS_CHOICES, ("other", "other")]
SEX_CHOICES = [("F", _("female")), ("M", _("male"))]


class PatientQuerySet(models.QuerySet):
    def visible(self):
        return self.filter(deleted_at__isnull=True)


class Patient(models.Model):
    record_number = models.CharField(_("medical record number"), max_length=64, unique=True)
    sex = models.CharField(_("sex"), max_length=1, choices=SEX_CHOICES, blank=True)
    date_of_birth = models.DateField(_("date of birth"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    # Soft delete: the row and its audit trail stay; the app hides it.
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["record_number"]
        constraints = [models.CheckConstraint(condition=Q(sex__in=["", "F", "M"]), name="patient_sex_valid")]

    def __str__(self) -> str:
        return self.record_number


# The LabPanel columns that hold a panel's values, as mlcore.intake gives them (sex is the patient's).
PANEL_VALUE_FIELDS = ("age", *HISTORY_FLAGS, "referral_source", *LAB_TESTS)


class LabPanel(models.Model):
    class Source(models.TextChoices):
        FORM = "form", _("form")
        CSV = "csv", _("CSV file")
        API = "api", _("API")
        UCI = "uci", _("UCI import")
        FHIR = "fhir", _("FHIR")

    # Indexed by panel_patient_time (patient first): no second index on patient alone.
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="panels", db_index=False)
    collected_at = models.DateTimeField(_("collected at"), default=timezone.now)
    age = models.FloatField(_("age"), null=True, blank=True, help_text=_("years"))

    on_thyroxine = models.BooleanField(_("on thyroxine"), default=False)
    query_on_thyroxine = models.BooleanField(_("query on thyroxine"), default=False)
    on_antithyroid_medication = models.BooleanField(_("on antithyroid medication"), default=False)
    sick = models.BooleanField(_("sick"), default=False)
    pregnant = models.BooleanField(_("pregnant"), default=False)
    thyroid_surgery = models.BooleanField(_("thyroid surgery"), default=False)
    I131_treatment = models.BooleanField(_("I131 treatment"), default=False)
    query_hypothyroid = models.BooleanField(_("query hypothyroid"), default=False)
    query_hyperthyroid = models.BooleanField(_("query hyperthyroid"), default=False)
    lithium = models.BooleanField(_("lithium"), default=False)
    goitre = models.BooleanField(_("goitre"), default=False)
    tumor = models.BooleanField(_("tumor"), default=False)
    hypopituitary = models.BooleanField(_("hypopituitary"), default=False)
    psych = models.BooleanField(_("psych"), default=False)
    referral_source = models.CharField(
        _("referral source"), max_length=8, choices=[(s, s) for s in REFERRAL_SOURCES], default="other"
    )

    # Lab values in the units of mlcore.schema.LAB_TESTS; null = not measured.
    TSH = models.FloatField("TSH", null=True, blank=True, help_text="mU/L")
    T3 = models.FloatField("T3", null=True, blank=True, help_text="nmol/L")
    TT4 = models.FloatField("TT4", null=True, blank=True, help_text="nmol/L")
    T4U = models.FloatField("T4U", null=True, blank=True, help_text="ratio")
    FTI = models.FloatField("FTI", null=True, blank=True, help_text="TT4/T4U")
    TBG = models.FloatField("TBG", null=True, blank=True, help_text="mg/L")
    FT4 = models.FloatField("FT4", null=True, blank=True, help_text="pmol/L (free T4, French T4L)")
    FT3 = models.FloatField("FT3", null=True, blank=True, help_text="pmol/L (free T3, French T3L)")
    # The lab values as they were sent, where a unit came with them: {field: {"value": 8.1, "unit": "ug/dL"}}.
    received = models.JSONField(_("values as received"), default=dict, blank=True)

    source = models.CharField(_("source"), max_length=8, choices=Source.choices, default=Source.FORM)
    # Identifies the row in its source (UCI record id, CSV job+line, FHIR id) so re-imports are idempotent.
    source_ref = models.CharField(max_length=128, blank=True)
    diagnosis_raw = models.CharField(_("known diagnosis"), max_length=32, blank=True)
    diagnosis_class = models.CharField(_("known class"), max_length=16, choices=DIAGNOSIS_CLASS_CHOICES, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-collected_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "collected_at"], name="panel_patient_time"),
            models.Index(fields=["collected_at"], name="panel_time"),
            models.Index(fields=["diagnosis_class", "collected_at"], name="panel_class_time"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "source_ref"], condition=~Q(source_ref=""), name="panel_unique_source_ref"
            ),
            models.CheckConstraint(
                condition=Q(age__isnull=True) | Q(age__gte=AGE_MIN, age__lte=AGE_MAX), name="panel_age_plausible"
            ),
            *[
                models.CheckConstraint(
                    condition=Q(**{f"{name}__isnull": True})
                    | Q(**{f"{name}__gte": test.plausible_min, f"{name}__lte": test.plausible_max}),
                    name=f"panel_{name.lower()}_plausible",
                )
                for name, test in LAB_TESTS.items()
            ],
        ]

    def __str__(self) -> str:
        return f"{self.patient} {self.collected_at:%Y-%m-%d}"

    def clean(self) -> None:
        errors = {}
        for field in ("age", *LAB_TESTS):
            try:
                check_value(field, getattr(self, field))
            except InputError as problem:
                errors[field] = problem.message
        if errors:
            raise ValidationError(errors)

    def lab_values(self) -> dict[str, float | None]:
        return {name: getattr(self, name) for name in LAB_TESTS}


class ModelVersion(models.Model):
    class Status(models.TextChoices):
        CANDIDATE = "candidate", _("candidate")
        ACTIVE = "active", _("active")
        RETIRED = "retired", _("retired")

    version = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CANDIDATE)
    # Directory of the saved model, relative to MEDIA_ROOT (or absolute for the shipped default).
    artefact_path = models.CharField(max_length=500)
    metrics = models.JSONField(default=dict, blank=True)
    model_card = models.TextField(blank=True)
    trained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    training_description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Recorded when a data manager overrides the promotion rule.
    override_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=Q(status="active"), name="one_active_model_version"),
        ]

    def __str__(self) -> str:
        return self.version


class Prediction(models.Model):
    # Indexed by prediction_unique_panel_version (panel first): no second index on panel alone.
    panel = models.ForeignKey(LabPanel, on_delete=models.CASCADE, related_name="predictions", db_index=False)
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="predictions")

    class Outcome(models.TextChoices):
        ASSESSED = rules.ASSESSED, _("assessed")
        REFER = rules.REFER, _("refer")
        NOT_ASSESSED = rules.NOT_ASSESSED, _("not assessed")

    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.ASSESSED)
    # Empty (and no probabilities) when the outcome is not_assessed.
    predicted_class = models.CharField(max_length=16, choices=CLASS_CHOICES, blank=True)
    p_normal = models.FloatField(null=True, blank=True)
    p_hyperthyroid = models.FloatField(null=True, blank=True)
    p_hypothyroid = models.FloatField(null=True, blank=True)
    # True whenever the outcome is not `assessed` (what clients read before outcomes existed).
    uncertain = models.BooleanField(default=False)
    reasons = models.JSONField(default=list, blank=True, help_text="coded reasons: [{code, params}]")
    warnings = models.JSONField(default=list, blank=True, help_text="coded input warnings: [{code, params}]")
    # Findings shown beside the answer, whose outcome stands (mlcore.rules NOTE_CODES).
    notes = models.JSONField(default=list, blank=True, help_text="coded notes: [{code, params}]")
    # Every condition the model answers beside the class (mlcore.conditions), empty when not assessed.
    conditions = models.JSONField(default=list, blank=True, help_text="conditions: [{code, probability, present}]")
    pattern = models.JSONField(null=True, blank=True, help_text="guideline reading: {code, ...}")
    explanation = models.JSONField(default=list, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["panel", "model_version"], name="prediction_unique_panel_version"),
            models.CheckConstraint(condition=Q(outcome__in=rules.OUTCOMES), name="prediction_outcome_valid"),
            models.CheckConstraint(
                condition=(
                    Q(outcome=rules.NOT_ASSESSED, predicted_class="", p_normal__isnull=True)
                    | (~Q(outcome=rules.NOT_ASSESSED) & ~Q(predicted_class="") & Q(p_normal__isnull=False))
                ),
                name="prediction_class_unless_not_assessed",
            ),
            *[
                models.CheckConstraint(condition=Q(**{f"{p}__gte": 0, f"{p}__lte": 1}), name=f"prediction_{p}_range")
                for p in ("p_normal", "p_hyperthyroid", "p_hypothyroid")
            ],
        ]
        indexes = [
            models.Index(fields=["created_at"], name="prediction_time"),
            models.Index(fields=["uncertain", "created_at"], name="prediction_uncertain_time"),
            models.Index(fields=["outcome", "created_at"], name="prediction_outcome_time"),
        ]

    def __str__(self) -> str:
        return f"{self.panel_id}: {self.predicted_class}"

    @property
    def probabilities(self) -> dict[str, float] | None:
        if self.p_normal is None:
            return None
        return {name: getattr(self, f"p_{name}") for name in CLASSES}


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    SUCCEEDED = "succeeded", _("succeeded")
    FAILED = "failed", _("failed")


class Job(models.Model):
    """What training runs and scoring jobs share: Celery status, progress and timing."""

    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.FloatField(default=0.0)
    message = models.TextField(blank=True)
    celery_task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Last sign of life: beaten while running (services/jobs.py), set when queued again; the healer
    # queues a running job again once it is older than THYROWEB_JOB_STALE_SECONDS.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Times a worker has started or resumed the job.
    attempts = models.PositiveIntegerField(default=0)
    # What the healer did: [{"at": ISO time, "reason": "worker_lost" | "lost_from_broker" | "gave_up", "attempt": n}].
    recoveries = models.JSONField(default=list, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]


class TrainingRun(Job):
    epoch = models.PositiveIntegerField(default=0)
    epochs = models.PositiveIntegerField(default=0)
    val_macro_f1 = models.FloatField(null=True, blank=True)
    history = models.JSONField(default=list, blank=True)
    params = models.JSONField(default=dict, blank=True)
    data_file = models.CharField(max_length=500, blank=True)
    result_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="training_runs"
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"training run {self.pk} ({self.status})"


class ScoringJob(Job):
    class Mode(models.TextChoices):
        """Chosen at upload: score only (nothing stored but the job and its results file), or store each row
        as a panel of its patient (found by record number, else created) with its prediction."""

        SCORE_ONLY = "score_only", _("Score only (no patients or panels stored)")
        STORE = "store", _("Store the panels for their patients, with their predictions")

    input_file = models.FileField(upload_to="scoring/input/", blank=True)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.STORE)
    # Written when the job succeeds: {"counts": {"outcome": {...}, "predicted_class": {...}}, "rows": [...]}
    # (the first PREVIEW_ROWS rows of the results file, for the job page).
    preview = models.JSONField(default=dict, blank=True)
    original_name = models.CharField(max_length=255, blank=True)
    total_rows = models.PositiveIntegerField(default=0)
    accepted_rows = models.PositiveIntegerField(default=0)
    rejected_rows = models.PositiveIntegerField(default=0)
    scored_rows = models.PositiveIntegerField(default=0)
    rejected = models.JSONField(default=list, blank=True)
    result_file = models.FileField(upload_to="scoring/results/", blank=True)
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="scoring_jobs"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"scoring job {self.pk} ({self.status})"


class ScoringChunk(models.Model):
    """A slice of a scoring job's accepted rows, scored by whichever worker takes its task (once: done_at)."""

    job = models.ForeignKey(ScoringJob, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    rows = models.PositiveIntegerField()
    created_patients = models.PositiveIntegerField(default=0)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.CharField(max_length=255, blank=True, help_text="host/process of the worker that scored it")
    # The chunk's share of the job page's preview, made when it is scored: {"counts": {...}, "rows": [...]}.
    preview = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="scoring_chunk_unique_index")]
        ordering = ["job", "index"]

    def __str__(self) -> str:
        return f"chunk {self.index} of scoring job {self.job_id}"


class StoredFile(models.Model):
    """A file kept in the database (diagnostics/storage.py): uploads, job working data, results and trained
    model archives, so that every web and worker process sees them without a shared disk."""

    name = models.CharField(max_length=255, unique=True)
    content = models.BinaryField()
    size = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AppendOnlyError(Exception):
    pass


class AuditEventQuerySet(models.QuerySet):
    """Bulk changes are refused too: the trail is only ever appended to."""

    def update(self, **kwargs):
        raise AppendOnlyError("audit events cannot be changed")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyError("audit events cannot be changed")

    def delete(self):
        raise AppendOnlyError("audit events cannot be deleted")

    def _raw_delete(self, using):
        raise AppendOnlyError("audit events cannot be deleted")


class AuditEvent(models.Model):
    """Who did what to which record, when, from where. Append-only."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=48, db_index=True)
    object_type = models.CharField(max_length=48, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_username} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError("audit events cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit events cannot be deleted")


# --- Clinicians' reviews and monitoring of the active model ---


class ReviewDiagnosis(models.TextChoices):
    """A clinician's final diagnosis for a reviewed panel."""

    NORMAL = "normal", _("normal")
    HYPERTHYROID = "hyperthyroid", _("hyperthyroid")
    HYPOTHYROID = "hypothyroid", _("hypothyroid")
    SUBCLINICAL_HYPERTHYROID = "subclinical_hyperthyroid", _("subclinical hyperthyroidism")
    SUBCLINICAL_HYPOTHYROID = "subclinical_hypothyroid", _("subclinical hypothyroidism")
    OTHER_THYROID = "other_thyroid", _("other thyroid condition")
    NOT_THYROID = "not_thyroid", _("not thyroid-related")


class PanelReview(models.Model):
    """A clinician's review of a panel's prediction. Append-only: an amendment is a new row, the latest
    review of a panel is its current one, and the earlier ones are its history."""

    panel = models.ForeignKey(LabPanel, on_delete=models.CASCADE, related_name="reviews")
    # The prediction the clinician saw (kept null if it is ever deleted).
    prediction = models.ForeignKey(Prediction, null=True, blank=True, on_delete=models.SET_NULL, related_name="reviews")
    agrees = models.BooleanField(default=False)
    diagnosis = models.CharField(max_length=32, choices=ReviewDiagnosis.choices)
    comment = models.TextField(blank=True, max_length=2000)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(default=timezone.now, editable=False)
    amends = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-reviewed_at", "-id"]
        indexes = [models.Index(fields=["panel", "reviewed_at"], name="review_panel_time")]
        constraints = [
            models.CheckConstraint(condition=Q(diagnosis__in=ReviewDiagnosis.values), name="review_diagnosis_valid"),
        ]

    def __str__(self) -> str:
        return f"review of panel {self.panel_id}: {self.diagnosis}"


class TrainingRunReview(models.Model):
    """A reviewed panel (its current review at the time) used as a label by a training run."""

    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="reviews_used")
    review = models.ForeignKey(PanelReview, on_delete=models.PROTECT, related_name="+")
    panel = models.ForeignKey(LabPanel, on_delete=models.CASCADE, related_name="+")
    label = models.CharField(max_length=16, choices=CLASS_CHOICES)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "panel"], name="training_review_unique_panel")]

    def __str__(self) -> str:
        return f"panel {self.panel_id} ({self.label}) in run {self.run_id}"


class InputReference(models.Model):
    """A model version's training distribution of each lab: decile bin edges and proportions, and the
    share missing; the baseline of the drift figures (population stability index)."""

    model_version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE, related_name="input_reference")
    labs = models.JSONField(default=dict, help_text="{lab: {edges, proportions, missing_share, rows}}")
    source = models.TextField(blank=True, help_text="which training rows the distribution was computed from")
    computed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"input reference of {self.model_version}"


class MonitoringSnapshot(models.Model):
    """Stored monitoring figures of one model version, by week or month, as computed at one time."""

    class Period(models.TextChoices):
        WEEK = "week", _("week")
        MONTH = "month", _("month")

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="snapshots")
    period = models.CharField(max_length=8, choices=Period.choices, default=Period.WEEK)
    figures = models.JSONField(default=dict, blank=True)
    alerts = models.JSONField(default=list, blank=True)
    computed_at = models.DateTimeField(default=timezone.now, db_index=True)
    seconds = models.FloatField(default=0.0)
    computed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-computed_at", "-id"]
        indexes = [models.Index(fields=["model_version", "period", "computed_at"], name="snapshot_version_time")]

    def __str__(self) -> str:
        return f"monitoring of {self.model_version} by {self.period} at {self.computed_at:%Y-%m-%d %H:%M}"
