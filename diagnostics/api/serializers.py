"""API input and output shapes.

Lab panel input is validated by ``mlcore.schema`` (the one place for ranges
and units) after a strict JSON type check (:func:`panel_type_errors`); the
panel serializers below document that shape in the OpenAPI schema.
"""

import math
from datetime import date, datetime

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from diagnostics.models import LabPanel, ModelVersion, Patient, Prediction, ScoringJob, TrainingRun
from diagnostics.patterns import with_message
from diagnostics.reasons import with_messages
from mlcore import reading, rules, units
from mlcore.schema import AGE_MAX, AGE_MIN, CLASSES, HISTORY_FLAGS, LAB_TESTS, REFERRAL_SOURCES, SEXES

NUMERIC_FIELDS = ("age", *LAB_TESTS)
PANEL_FIELDS = ("age", "sex", *HISTORY_FLAGS, *LAB_TESTS, "referral_source")


class StrictFieldsMixin:
    """Refuse fields the serializer does not know, instead of silently dropping them."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                raise serializers.ValidationError({key: [f"unknown field {key!r}"] for key in unknown})
        return super().to_internal_value(data)


def _number_problem(key: str, value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{key} {value!r} is not a number (null = not measured)"
    if isinstance(value, int) and abs(value) > 1e15 or isinstance(value, float) and not math.isfinite(value):
        return f"{key} is not a plausible number"
    return None


def _lab_object_problem(key: str, value: dict) -> str | None:
    """A lab value sent with its unit, {"value": 8.1, "unit": "ug/dL"}: its shape (the unit is checked later)."""
    extra = sorted(str(name) for name in value if name not in ("value", "unit"))
    if extra or "value" not in value or not isinstance(value.get("unit"), str):
        return f'{key} must be a number in {units.display(units.our_unit(key))} or {{"value": number, "unit": "text"}}'
    if value["value"] is None:
        return f"{key} value is missing (leave {key} out or null when not measured)"
    return _number_problem(f"{key} value", value["value"])


def split_lab_units(data: dict) -> tuple[dict, dict[str, str]]:
    """A panel body with each {"value", "unit"} lab object replaced by its value, and {lab: unit}."""
    plain, given = dict(data), {}
    for name in LAB_TESTS:
        value = data.get(name)
        if isinstance(value, dict):
            plain[name], given[name] = value["value"], value["unit"]
    return plain, given


def panel_type_errors(data: dict, allowed: tuple[str, ...] = PANEL_FIELDS) -> dict[str, list[str]]:
    """JSON type problems of a panel body (ranges and units are mlcore's business)."""
    errors: dict[str, list[str]] = {}
    for key, value in data.items():
        if key not in allowed:
            errors[str(key)] = [f"unknown field {key!r}"]
        elif key in NUMERIC_FIELDS:
            if value is None:
                continue
            problem = (
                _lab_object_problem(key, value)
                if key in LAB_TESTS and isinstance(value, dict)
                else _number_problem(key, value)
            )
            if problem:
                errors[key] = [problem]
        elif key in HISTORY_FLAGS:
            if not isinstance(value, bool):
                errors[key] = [f"{key} {value!r} is not true or false"]
        elif key == "sex":
            if value is not None and value not in SEXES:
                errors[key] = [f"sex {value!r} is not one of F, M (or null if unknown)"]
        elif key == "referral_source":
            if value not in REFERRAL_SOURCES:
                errors[key] = [f"referral_source {value!r} is not one of {', '.join(REFERRAL_SOURCES)}"]
    return errors


def _lab_value_schema(name: str) -> dict:
    """OpenAPI: a number in our unit, or {"value", "unit"} in any unit of the test (the accepted units listed)."""
    test = LAB_TESTS[name]
    accepted = units.accepted(name)
    return {
        "oneOf": [
            {"type": "number", "minimum": test.plausible_min, "maximum": test.plausible_max},
            {
                "type": "object",
                "properties": {
                    "value": {"type": "number", "minimum": 0},
                    "unit": {
                        "type": "string",
                        "description": f"UCUM code, one of {', '.join(accepted)}; common spellings such as "
                        "µg/dL, µIU/mL, mUI/L or pmol/l are read as their code.",
                        "examples": accepted,
                    },
                },
                "required": ["value", "unit"],
                "additionalProperties": False,
            },
        ],
        "nullable": True,
    }


def _lab_field(name: str) -> serializers.Field:
    test = LAB_TESTS[name]
    unit = f" in {test.unit}" if test.unit else " (ratio)"

    @extend_schema_field(_lab_value_schema(name))
    class LabValueField(serializers.Field):
        pass

    return LabValueField(
        required=False,
        allow_null=True,
        help_text=f'{test.label}{unit}, or {{"value": ..., "unit": ...}} in the unit the lab sent (converted; '
        f"accepted units: {', '.join(units.accepted(name))}); null or absent = not measured. Reference "
        f"{test.reference_low}-{test.reference_high}.",
    )


class PanelValuesSerializer(StrictFieldsMixin, serializers.Serializer):
    """One panel's values, named as in the UCI data; absent = not measured / not present."""

    age = serializers.FloatField(
        required=False, allow_null=True, min_value=AGE_MIN, max_value=AGE_MAX, help_text="years"
    )
    sex = serializers.ChoiceField(choices=SEXES, required=False, allow_null=True)
    referral_source = serializers.ChoiceField(choices=REFERRAL_SOURCES, required=False, default="other")

    def get_fields(self):
        fields = super().get_fields()
        for flag in HISTORY_FLAGS:
            fields[flag] = serializers.BooleanField(required=False, default=False)
        for name in LAB_TESTS:
            fields[name] = _lab_field(name)
        return fields


class PredictRequestSerializer(PanelValuesSerializer):
    patient = serializers.CharField(
        required=False,
        max_length=64,
        help_text="Medical record number; with store=true the panel is stored for this patient (created if new).",
    )
    store = serializers.BooleanField(
        required=False, help_text="Store the panel and prediction for the patient (default: true with a patient)."
    )
    collected_at = serializers.DateTimeField(required=False, help_text="When the sample was taken (default: now).")


class PanelCreateSerializer(PanelValuesSerializer):
    collected_at = serializers.DateTimeField(required=False, help_text="When the sample was taken (default: now).")


class BulkPredictRequestSerializer(StrictFieldsMixin, serializers.Serializer):
    panels = PanelValuesSerializer(many=True, help_text="1 to 10,000 panels.")


class ExplanationItemSerializer(serializers.Serializer):
    text = serializers.CharField(help_text="e.g. 'TSH 45 mU/L pushed towards hypothyroid (+97 points)'")
    feature = serializers.CharField(required=False)
    towards = serializers.ChoiceField(
        choices=CLASSES, required=False, help_text="The class whose probability this input raised most."
    )
    against = serializers.ChoiceField(
        choices=CLASSES,
        required=False,
        allow_null=True,
        help_text="The class whose probability this input lowered most, when it lowered one noticeably.",
    )
    contribution = serializers.FloatField(required=False, help_text="How much it raised that probability (0-1).")
    contributions = serializers.DictField(
        child=serializers.FloatField(), required=False, help_text="Signed change of each class's probability."
    )


class ProbabilitiesSerializer(serializers.Serializer):
    normal = serializers.FloatField(min_value=0, max_value=1)
    hyperthyroid = serializers.FloatField(min_value=0, max_value=1)
    hypothyroid = serializers.FloatField(min_value=0, max_value=1)


class PatternSerializer(serializers.Serializer):
    """The guideline reading of the values (mlcore.reading), beside the model's answer."""

    code = serializers.ChoiceField(choices=list(reading.CODES), help_text="e.g. overt_primary_hypothyroidism")
    message = serializers.CharField(help_text="The reading in words.")
    thyroxine = serializers.ChoiceField(
        choices=list(rules.THYROXINE_PREFERENCE), allow_null=True, help_text="The thyroxine measure read."
    )
    T3 = serializers.ChoiceField(choices=list(reading.T3_PREFERENCE), allow_null=True, help_text="The T3 read.")
    levels = serializers.DictField(
        child=serializers.CharField(), required=False, help_text="low, normal or high per test read."
    )
    missing = serializers.ListField(child=serializers.CharField(), required=False, help_text="When not readable.")


REASON_CODES = sorted({*rules.REFERRAL_CODES, *rules.NOT_ASSESSED_CODES, *rules.WARNING_CODES})


class ReasonSerializer(serializers.Serializer):
    """A coded reason (why refer, why not assessed) or input warning."""

    code = serializers.ChoiceField(choices=REASON_CODES, help_text="Stable code (mlcore.rules).")
    params = serializers.DictField(help_text="The values the rule found, e.g. {field, value, unit}.")
    message = serializers.CharField(help_text="The reason in plain words, in the request's language.")


OUTCOME_HELP = (
    "assessed: class and probabilities can be relied on; refer: class and probabilities given, but a "
    "clinician must look (see reasons); not_assessed: no class (the panel lacks what the model needs, "
    "see reasons)."
)


class OutcomeFieldsSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=rules.OUTCOMES, help_text=OUTCOME_HELP)
    reasons = ReasonSerializer(many=True, help_text="Why refer or why not assessed; empty when assessed.")
    warnings = ReasonSerializer(many=True, help_text="Input values to check (suspected unit, unusual value...).")
    pattern = PatternSerializer(allow_null=True, help_text="The guideline reading of the values, when made.")


class PredictionResultSerializer(OutcomeFieldsSerializer):
    """The shape of a prediction (documentation of the predict endpoints' answers)."""

    predicted_class = serializers.ChoiceField(choices=CLASSES, allow_null=True, help_text="null when not assessed.")
    probabilities = ProbabilitiesSerializer(allow_null=True, help_text="null when not assessed.")
    uncertain = serializers.BooleanField(help_text="True whenever the outcome is not assessed (refer for review).")
    explanation = ExplanationItemSerializer(many=True)
    model_version = serializers.CharField()


class PredictResponseSerializer(PredictionResultSerializer):
    patient_id = serializers.IntegerField(required=False, help_text="With store=true.")
    panel_id = serializers.IntegerField(required=False, help_text="With store=true.")
    prediction_id = serializers.IntegerField(required=False, help_text="With store=true.")


class BulkPredictResponseSerializer(serializers.Serializer):
    model_version = serializers.CharField()
    count = serializers.IntegerField()
    results = PredictionResultSerializer(many=True, help_text="In the order of the panels; explanation is empty.")


class PatientSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    class Meta:
        model = Patient
        fields = ["id", "record_number", "sex", "date_of_birth", "notes", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate_date_of_birth(self, value):
        if value is not None and not (date(1880, 1, 1) <= value <= timezone.localdate()):
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
            *PANEL_FIELDS[:1],
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
        from diagnostics.services.jobs import recovery_message

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
    max_records = serializers.IntegerField(required=False, min_value=30, max_value=10_000_000)
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
        from django.urls import reverse

        return reverse("api-scoring-job-results", args=[job.pk])


class ScoringJobCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    file = serializers.FileField(help_text="CSV with the panel columns, or a UCI thyroid0387-format file.")
    mode = serializers.ChoiceField(
        choices=ScoringJob.Mode.choices,
        default=ScoringJob.Mode.STORE,
        help_text="score_only: results kept with the job only; store (default): each row also stored as a panel "
        "of its patient (found by record number, else created) with its prediction.",
    )
