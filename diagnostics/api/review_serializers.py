"""API shapes of the review worklist, reviews and monitoring figures."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from diagnostics.api.panel_serializers import StrictFieldsMixin
from diagnostics.models import MonitoringSnapshot, PanelReview, Prediction, ReviewDiagnosis
from diagnostics.services.review_queue import AGE_CHOICES, QUEUE_REASONS, REASON_CODES, why_queued
from diagnostics.services.reviews import COMMENT_MAX, review_label
from mlcore.schema import CLASSES


class CodedReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    params = serializers.DictField(required=False)


class WorklistItemSerializer(serializers.ModelSerializer):
    prediction = serializers.IntegerField(source="id", read_only=True)
    patient = serializers.IntegerField(source="panel.patient_id", read_only=True)
    model_version = serializers.CharField(source="model_version.version", read_only=True)
    predicted_class = serializers.SerializerMethodField(help_text="null when not assessed.")
    reasons = CodedReasonSerializer(many=True, read_only=True)
    queue_reason = serializers.SerializerMethodField(
        help_text="Why the panel is on the worklist: refer, not_assessed, abnormal (class) or sample (of normals)."
    )

    class Meta:
        model = Prediction
        fields = [
            "prediction",
            "panel",
            "patient",
            "model_version",
            "outcome",
            "predicted_class",
            "reasons",
            "queue_reason",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=CLASSES, allow_null=True))
    def get_predicted_class(self, prediction) -> str | None:
        return prediction.predicted_class or None

    def get_queue_reason(self, prediction) -> str:
        return why_queued(prediction)


class WorklistFilters(serializers.Serializer):
    reason = serializers.ChoiceField(choices=[*QUEUE_REASONS, *REASON_CODES], required=False)
    predicted_class = serializers.ChoiceField(choices=[*CLASSES, "none"], required=False)
    older_than_days = serializers.ChoiceField(choices=AGE_CHOICES, required=False)


class ReviewSerializer(serializers.ModelSerializer):
    reviewed_by = serializers.CharField(source="reviewed_by.get_username", read_only=True, allow_null=True)
    label = serializers.SerializerMethodField(help_text="The model class it counts as (null: left out).")

    class Meta:
        model = PanelReview
        fields = [
            "id",
            "panel",
            "prediction",
            "agrees",
            "diagnosis",
            "label",
            "comment",
            "reviewed_by",
            "reviewed_at",
            "amends",
        ]
        read_only_fields = fields

    def get_label(self, review) -> str | None:
        return review_label(review.diagnosis)


class ReviewCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    agrees = serializers.BooleanField(help_text="True: the predicted class is the final diagnosis.")
    diagnosis = serializers.ChoiceField(
        choices=ReviewDiagnosis.values, required=False, help_text="The final diagnosis, when not agreeing."
    )
    comment = serializers.CharField(required=False, allow_blank=True, max_length=COMMENT_MAX)


class MonitoringSnapshotSerializer(serializers.ModelSerializer):
    model_version = serializers.CharField(source="model_version.version", read_only=True)
    figures = serializers.JSONField(
        read_only=True,
        help_text="periods: [{start, panels, outcomes, classes, labs: {LAB: {missing_share, measured, psi, band, "
        "shares}}}], agreement: {matrix, columns, reviews, macro_f1, not_assessed, left_out}, reference.",
    )
    alerts = serializers.JSONField(read_only=True)

    class Meta:
        model = MonitoringSnapshot
        fields = ["id", "model_version", "period", "computed_at", "seconds", "alerts", "figures"]
        read_only_fields = fields


class MonitoringQuery(serializers.Serializer):
    period = serializers.ChoiceField(choices=MonitoringSnapshot.Period.values, required=False, default="week")
