"""API shapes of stored things: patients, their panels and predictions, model versions, jobs.

A panel coming in and an answer going out have their shapes in panel_serializers.py (the one intake's
JSON face); a stored prediction is worded by the same serializers of reasons, notes and conditions.
"""

from datetime import datetime

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from diagnostics.api.panel_serializers import (
    OUTCOME_HELP,
    ConditionSerializer,
    ExplanationItemSerializer,
    NoteSerializer,
    PatternSerializer,
    ProbabilitiesSerializer,
    ReasonSerializer,
    StrictFieldsMixin,
    conditions_data,
)
from diagnostics.models import LabPanel, ModelVersion, Patient, Prediction, ScoringJob, TrainingRun
from diagnostics.patterns import with_message
from diagnostics.reasons import with_messages
from diagnostics.services.intake import plausible_date_of_birth
from diagnostics.services.jobs import recovery_message
from mlcore import rules
from mlcore.data import MIN_TRAINING_ROWS
from mlcore.schema import CLASSES, HISTORY_FLAGS, LAB_TESTS


class PatientSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    class Meta:
        model = Patient
        fields = ["id", "record_number", "sex", "date_of_birth", "notes", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate_date_of_birth(self, value):
        if value is not None and not plausible_date_of_birth(value):
            raise serializers.ValidationError("date_of_birth must be a past date after 1880")
        return value


class PredictionSerializer(serializers.ModelSerializer):
    patient = serializers.IntegerField(source="panel.patient_id", read_only=True)
    model_version = serializers.CharField(source="model_version.version", read_only=True)
    outcome = serializers.ChoiceField(choices=rules.OUTCOMES, read_only=True, help_text=OUTCOME_HELP)
    predicted_class = serializers.SerializerMethodField(help_text="null when not assessed.")
    probabilities = ProbabilitiesSerializer(read_only=True, allow_null=True, help_text="null when not assessed.")
    reasons = serializers.SerializerMethodField(help_text="Why refer or why not assessed; empty when assessed.")
    warnings = serializers.SerializerMethodField(help_text="Input values to check.")
    notes = serializers.SerializerMethodField(help_text="Findings shown beside the answer; the outcome stands.")
    conditions = serializers.SerializerMethodField(
        help_text="Each condition the model answers, in a fixed order; empty when not assessed."
    )
    explanation = ExplanationItemSerializer(many=True, read_only=True)
    pattern = serializers.SerializerMethodField(help_text="The guideline reading of the values, when made.")

    class Meta:
        model = Prediction
        fields = [
            "id",
            "panel",
            "patient",
            "model_version",
            "outcome",
            "predicted_class",
            "probabilities",
            "uncertain",
            "reasons",
            "warnings",
            "notes",
            "conditions",
            "pattern",
            "explanation",
            "created_at",
        ]
        read_only_fields = fields

    def get_pattern(self, prediction: Prediction) -> PatternSerializer(allow_null=True):  # type: ignore[valid-type]
        return with_message(prediction.pattern)

    @extend_schema_field(serializers.ChoiceField(choices=CLASSES, allow_null=True))
    def get_predicted_class(self, prediction: Prediction) -> str | None:
        return prediction.predicted_class or None

    @extend_schema_field(ReasonSerializer(many=True))
    def get_reasons(self, prediction: Prediction) -> list[dict]:
        return with_messages(prediction.reasons)

    @extend_schema_field(ReasonSerializer(many=True))
    def get_warnings(self, prediction: Prediction) -> list[dict]:
        return with_messages(prediction.warnings)

    @extend_schema_field(NoteSerializer(many=True))
    def get_notes(self, prediction: Prediction) -> list[dict]:
        return with_messages(prediction.notes)

    @extend_schema_field(ConditionSerializer(many=True))
    def get_conditions(self, prediction: Prediction) -> list[dict]:
        return conditions_data(prediction.conditions)


class PanelSerializer(serializers.ModelSerializer):
    prediction = serializers.SerializerMethodField(help_text="The most recent prediction, if scored.")
    diagnosis_class = serializers.CharField(
        read_only=True, help_text="Known class (normal, hyperthyroid, hypothyroid, other); empty when unknown."
    )
    received = serializers.DictField(
        read_only=True, help_text='Lab values as sent with their unit: {"TT4": {"value": 8.1, "unit": "ug/dL"}}.'
    )

    class Meta:
        model = LabPanel
        fields = [
            "id",
            "patient",
            "collected_at",
            "age",
            *HISTORY_FLAGS,
            "referral_source",
            *LAB_TESTS,
            "received",
            "source",
            "diagnosis_class",
            "created_at",
            "prediction",
        ]
        read_only_fields = fields

    def get_prediction(self, panel: LabPanel) -> PredictionSerializer(allow_null=True):  # type: ignore[valid-type]
        predictions = list(panel.predictions.all())
        return PredictionSerializer(predictions[0]).data if predictions else None


class ModelVersionSerializer(serializers.ModelSerializer):
    metrics = serializers.JSONField(read_only=True, help_text="Evaluation figures (macro_f1, recall per class...).")

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "version",
            "status",
            "metrics",
            "model_card",
            "training_description",
            "override_reason",
            "created_at",
            "activated_at",
        ]
        read_only_fields = fields


class ActivateSerializer(StrictFieldsMixin, serializers.Serializer):
    override_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="Required to activate a version that is not at least as good as the active one.",
    )


class RecoverySerializer(serializers.Serializer):
    """One thing the job healer did: the job's worker was lost (or its queued task was), and it was resumed."""

    at = serializers.DateTimeField()
    reason = serializers.ChoiceField(choices=["worker_lost", "lost_from_broker", "gave_up"])
    attempt = serializers.IntegerField(help_text="the attempt that followed (gave_up: the attempts made)")
    message = serializers.CharField(help_text='e.g. "Worker lost at …, resumed (attempt 2)."')

    def to_representation(self, entry: dict) -> dict:
        moment = datetime.fromisoformat(entry["at"])
        return super().to_representation({**entry, "at": moment, "message": recovery_message(entry)})


class TrainingRunSerializer(serializers.ModelSerializer):
    result_version = serializers.CharField(source="result_version.version", read_only=True, allow_null=True)
    reviewed_panels = serializers.SerializerMethodField(
        help_text="Reviewed panels the run trained on, per class (their current review as the label)."
    )

    def get_reviewed_panels(self, run) -> dict[str, int]:
        counts = dict.fromkeys(CLASSES, 0)
        for label in run.reviews_used.values_list("label", flat=True):
            counts[label] += 1
        return counts

    recoveries = RecoverySerializer(many=True, read_only=True)

    class Meta:
        model = TrainingRun
        fields = [
            "id",
            "status",
            "progress",
            "epoch",
            "epochs",
            "val_macro_f1",
            "history",
            "params",
            "message",
            "result_version",
            "reviewed_panels",
            "attempts",
            "recoveries",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class TrainingRunCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    epochs = serializers.IntegerField(required=False, min_value=1, max_value=1000)
    seed = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)
    max_records = serializers.IntegerField(required=False, min_value=MIN_TRAINING_ROWS, max_value=10_000_000)
    data_file = serializers.CharField(
        required=False, max_length=255, help_text="A UCI-format file in the data folder, added to the labelled panels."
    )
    include_reviews = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Add the panels clinicians reviewed, their current review as the label (subclinical forms as "
        "their class; other thyroid condition and not thyroid-related left out).",
    )


class ScoringJobSerializer(serializers.ModelSerializer):
    model_version = serializers.CharField(source="model_version.version", read_only=True, allow_null=True)
    results_url = serializers.SerializerMethodField()
    recoveries = RecoverySerializer(many=True, read_only=True)

    class Meta:
        model = ScoringJob
        fields = [
            "id",
            "status",
            "progress",
            "original_name",
            "total_rows",
            "accepted_rows",
            "rejected_rows",
            "scored_rows",
            "rejected",
            "mode",
            "preview",
            "model_version",
            "message",
            "attempts",
            "recoveries",
            "created_at",
            "started_at",
            "finished_at",
            "results_url",
        ]
        read_only_fields = fields

    def get_results_url(self, job: ScoringJob) -> str | None:
        if not job.result_file:
            return None
        return reverse("api-scoring-job-results", args=[job.pk])


class ScoringJobCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    file = serializers.FileField(help_text="CSV with the panel columns, or a UCI thyroid0387-format file.")
    mode = serializers.ChoiceField(
        choices=ScoringJob.Mode.choices,
        default=ScoringJob.Mode.STORE,
        help_text="score_only: results kept with the job only; store (default): each row also stored as a panel "
        "of its patient (found by record number, else created) with its prediction.",
    )
