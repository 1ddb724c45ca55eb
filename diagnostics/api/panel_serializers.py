"""The API's shapes of a panel coming in and of the answer going out: the one description of each.

A panel comes in as JSON: each field's type is checked by its serializer field here (a lab value is a number
in ThyroWeb's unit or ``{"value": number, "unit": "text"}``, :class:`LabValueField`), then the values go to
the one intake, ``mlcore.intake.take_panel`` (units, ranges, at least one lab value); every problem is
reported at once under its field. The validated data of a panel serializer is a ``mlcore.intake.Panel``.

An answer goes out through :class:`PredictionResultSerializer` and its family. Their ``to_representation``
builds each reply directly (10,000 answers in one bulk reply); tests/test_api_shapes.py checks that every
reply has exactly the fields the serializer declares, which are what the OpenAPI schema documents.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from diagnostics.api.errors import PayloadTooLarge
from diagnostics.patterns import with_message
from diagnostics.reasons import with_messages
from diagnostics.services.intake import RECORD_NUMBER_MAX, record_number_problem
from mlcore import reading, rules, units
from mlcore.conditions import CONDITION_CODES
from mlcore.intake import Panel, take_panel
from mlcore.schema import AGE_MAX, AGE_MIN, CLASSES, HISTORY_FLAGS, LAB_TESTS, REFERRAL_SOURCES, SEXES

MAX_BULK_PANELS = 10_000
# mlcore.rules' note codes, once the rules define them (findings shown beside an answer that stands).
NOTE_CODES = tuple(getattr(rules, "NOTE_CODES", ()))
REASON_CODES = sorted({*rules.REFERRAL_CODES, *rules.NOT_ASSESSED_CODES, *rules.WARNING_CODES})


class StrictFieldsMixin:
    """Refuse fields the serializer does not know, instead of silently dropping them."""

    # The OpenAPI schema says so of every such request body: additionalProperties false (api/schema.py).

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                raise serializers.ValidationError({key: [f"unknown field {key!r}"] for key in unknown})
        return super().to_internal_value(data)


# --- A panel coming in: one field type per kind of value ---


def _number_problem(key: str, value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{key} {value!r} is not a number (null = not measured)"
    if isinstance(value, int) and abs(value) > 1e15 or isinstance(value, float) and not math.isfinite(value):
        return f"{key} is not a plausible number"
    return None


class _Checked:
    """A serializer field whose JSON type check is ``problem(key, value)`` (None when fine): the panel
    serializers run it on every key at once, then hand the values to the intake."""

    def problem(self, key: str, value) -> str | None:
        raise NotImplementedError

    def to_internal_value(self, data):
        problem = self.problem(self.field_name, data)
        if problem is not None:
            raise serializers.ValidationError(problem)
        return data


class AgeField(_Checked, serializers.FloatField):
    """Age in years, a JSON number; its plausible range is the intake's to check."""

    def problem(self, key, value):
        return None if value is None else _number_problem(key, value)


class FlagField(_Checked, serializers.BooleanField):
    """A history flag: JSON true or false, nothing else."""

    def problem(self, key, value):
        return None if isinstance(value, bool) else f"{key} {value!r} is not true or false"


class SexField(_Checked, serializers.ChoiceField):
    def problem(self, key, value):
        if value is not None and value not in SEXES:
            return f"sex {value!r} is not one of F, M (or null if unknown)"
        return None


class ReferralSourceField(_Checked, serializers.ChoiceField):
    def problem(self, key, value):
        if value not in REFERRAL_SOURCES:
            return f"referral_source {value!r} is not one of {', '.join(REFERRAL_SOURCES)}"
        return None


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


class LabValueField(_Checked, serializers.Field):
    """A lab value: a JSON number in ThyroWeb's unit, or ``{"value": number, "unit": "text"}`` in a unit of
    the test (converted by the intake, kept as received); null or absent = not measured."""

    def __init__(self, test: str, **kwargs):
        self.test = test
        super().__init__(**kwargs)

    def problem(self, key, value):
        if value is None:
            return None
        if not isinstance(value, dict):
            return _number_problem(key, value)
        extra = sorted(str(name) for name in value if name not in ("value", "unit"))
        if extra or "value" not in value or not isinstance(value.get("unit"), str):
            ours = units.display(units.our_unit(key))
            return f'{key} must be a number in {ours} or {{"value": number, "unit": "text"}}'
        if value["value"] is None:
            return f"{key} value is missing (leave {key} out or null when not measured)"
        return _number_problem(f"{key} value", value["value"])

    def to_representation(self, value):
        return value


def _lab_field(name: str) -> LabValueField:
    test = LAB_TESTS[name]
    unit = f" in {test.unit}" if test.unit else " (ratio)"
    # One documented schema per test: its plausible range and its accepted units.
    field_class = extend_schema_field(_lab_value_schema(name))(type(f"{name}ValueField", (LabValueField,), {}))
    return field_class(
        name,
        required=False,
        allow_null=True,
        help_text=f'{test.label}{unit}, or {{"value": ..., "unit": ...}} in the unit the lab sent (converted; '
        f"accepted units: {', '.join(units.accepted(name))}); null or absent = not measured. Reference "
        f"{test.reference_low}-{test.reference_high}.",
    )


class PanelValuesSerializer(StrictFieldsMixin, serializers.Serializer):
    """One panel's values, named as in the UCI data; absent = not measured / not present."""

    # Its validated data is the clean mlcore.intake.Panel; read() refuses unknown fields, naming them.

    age = AgeField(required=False, allow_null=True, min_value=AGE_MIN, max_value=AGE_MAX, help_text="years")
    sex = SexField(choices=SEXES, required=False, allow_null=True)
    referral_source = ReferralSourceField(choices=REFERRAL_SOURCES, required=False, default="other")

    def get_fields(self):
        fields = super().get_fields()
        for flag in HISTORY_FLAGS:
            fields[flag] = FlagField(required=False, default=False)
        for name in LAB_TESTS:
            fields[name] = _lab_field(name)
        return fields

    @classmethod
    @cache
    def _checks(cls) -> dict[str, _Checked]:
        """The panel's fields by name, made once per class (a request checks its keys against them)."""
        return {name: field for name, field in PanelValuesSerializer().fields.items()}

    @classmethod
    def read(cls, data: Mapping) -> tuple[Panel | None, dict[str, list[str]]]:
        """(the clean panel, {}) or (None, every field's problems): JSON types first, then the one intake
        (units, ranges, and a panel without any lab value refused under ``labs``)."""
        checks = cls._checks()
        errors: dict[str, list[str]] = {}
        typed = {}
        for key, value in data.items():
            field = checks.get(key)
            if field is None:
                errors[str(key)] = [f"unknown field {key!r}"]
            elif (problem := field.problem(key, value)) is not None:
                errors[key] = [problem]
            else:
                typed[key] = value
        intake = take_panel(typed)
        for error in intake.errors:
            errors.setdefault(error.field, []).append(error.message)
        return (None if errors else intake.panel), errors

    def to_internal_value(self, data) -> Panel:
        if not isinstance(data, Mapping):
            raise serializers.ValidationError({"body": ["the body must be a JSON object"]})
        panel, errors = self.read(data)
        if errors:
            raise serializers.ValidationError(errors)
        return panel


_DATE_TIME = serializers.DateTimeField()


def _collected_at(options: dict, errors: dict) -> datetime | None:
    """``collected_at`` (ISO 8601) of a request; a bad value goes into ``errors``."""
    if "collected_at" not in options:
        return None
    try:
        return _DATE_TIME.run_validation(options["collected_at"])
    except serializers.ValidationError as error:
        errors["collected_at"] = list(error.detail)
        return None


def _split(data: Mapping, options: tuple[str, ...]) -> tuple[dict, dict]:
    if not isinstance(data, Mapping):
        raise serializers.ValidationError({"body": ["the body must be a JSON object"]})
    panel = dict(data)
    return panel, {key: panel.pop(key) for key in options if key in panel}


@dataclass
class PredictRequest:
    panel: Panel
    patient: str | None
    store: bool
    collected_at: datetime | None


class PredictRequestSerializer(PanelValuesSerializer):
    """One panel to score; with ``patient`` (and ``store``, true by default then) stored for that patient.
    Problems with the options are reported first, then the panel's."""

    patient = serializers.CharField(
        required=False,
        max_length=RECORD_NUMBER_MAX,
        help_text="Medical record number; with store=true the panel is stored for this patient (created if new).",
    )
    store = serializers.BooleanField(
        required=False, help_text="Store the panel and prediction for the patient (default: true with a patient)."
    )
    collected_at = serializers.DateTimeField(required=False, help_text="When the sample was taken (default: now).")

    def to_internal_value(self, data) -> PredictRequest:
        values, options = _split(data, ("patient", "store", "collected_at"))
        errors: dict[str, list[str]] = {}
        patient = options.get("patient")
        if patient is not None and (problem := record_number_problem(patient, name="patient")) is not None:
            errors["patient"] = [problem]
        store = options.get("store", patient is not None)
        if not isinstance(store, bool):
            errors["store"] = [f"store {store!r} is not true or false"]
        elif store and patient is None:
            errors["patient"] = ["patient (a medical record number) is required when store is true"]
        collected_at = _collected_at(options, errors)
        if errors:
            raise serializers.ValidationError(errors)
        panel = super().to_internal_value(values)
        return PredictRequest(panel, patient.strip() if patient else None, store, collected_at)


@dataclass
class PanelCreateRequest:
    panel: Panel
    collected_at: datetime | None


class PanelCreateSerializer(PanelValuesSerializer):
    """A panel to store for a patient; problems with collected_at and the values are reported together."""

    collected_at = serializers.DateTimeField(required=False, help_text="When the sample was taken (default: now).")

    def to_internal_value(self, data) -> PanelCreateRequest:
        values, options = _split(data, ("collected_at",))
        errors: dict[str, list[str]] = {}
        collected_at = _collected_at(options, errors)
        panel, problems = self.read(values)
        if errors or problems:
            raise serializers.ValidationError({**errors, **problems})
        return PanelCreateRequest(panel, collected_at)


class BulkPredictRequestSerializer(StrictFieldsMixin, serializers.Serializer):
    """1 to 10,000 panels; every panel valid, or every problem reported (``panels.<i>.<field>``)."""

    panels = PanelValuesSerializer(many=True, help_text="1 to 10,000 panels.")

    def to_internal_value(self, data) -> list[Panel]:
        if not isinstance(data, Mapping):
            raise serializers.ValidationError({"body": ["the body must be a JSON object"]})
        unknown = [key for key in data if key != "panels"]
        if unknown:
            raise serializers.ValidationError({key: [f"unknown field {key!r}"] for key in unknown})
        given = data.get("panels")
        if not isinstance(given, list) or not given:
            raise serializers.ValidationError({"panels": ["panels must be a non-empty list of panel objects"]})
        if len(given) > MAX_BULK_PANELS:
            raise PayloadTooLarge(
                {"panels": [f"{len(given)} panels sent; at most {MAX_BULK_PANELS:,} are accepted per request"]}
            )
        panels, errors = [], {}
        for index, values in enumerate(given):
            if not isinstance(values, Mapping):
                errors[f"panels.{index}"] = ["each panel must be a JSON object"]
                continue
            panel, problems = PanelValuesSerializer.read(values)
            for field, messages in problems.items():
                errors[f"panels.{index}.{field}"] = messages
            panels.append(panel)
        if errors:
            raise serializers.ValidationError(errors)
        return panels


# --- The answer going out ---


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


class ReasonSerializer(serializers.Serializer):
    """A coded reason (why refer, why not assessed) or input warning."""

    code = serializers.ChoiceField(choices=REASON_CODES, help_text="Stable code (mlcore.rules).")
    params = serializers.DictField(help_text="The values the rule found, e.g. {field, value, unit}.")
    message = serializers.CharField(help_text="The reason in plain words, in the request's language.")


class NoteSerializer(serializers.Serializer):
    """A coded note: a finding shown beside the answer, whose outcome stands."""

    code = (
        serializers.ChoiceField(choices=NOTE_CODES, help_text="Stable code (mlcore.rules NOTE_CODES).")
        if NOTE_CODES
        else serializers.CharField(help_text="Stable code (mlcore.rules NOTE_CODES).")
    )
    params = serializers.DictField(help_text="The values the rule found.")
    message = serializers.CharField(help_text="The note in plain words, in the request's language.")


class ConditionSerializer(serializers.Serializer):
    """A thyroid condition the model answers beside the class (mlcore.conditions)."""

    code = serializers.ChoiceField(choices=list(CONDITION_CODES), help_text="e.g. non_thyroidal_illness")
    probability = serializers.FloatField(min_value=0, max_value=1, help_text="Calibrated probability.")
    present = serializers.BooleanField(help_text="The probability reaches the condition's decision threshold.")


def conditions_data(conditions) -> list[dict]:
    return [
        {"code": str(c["code"]), "probability": float(c["probability"]), "present": bool(c["present"])}
        for c in conditions or []
    ]


OUTCOME_HELP = (
    "assessed: class and probabilities can be relied on; refer: class and probabilities given, but a "
    "clinician must look (see reasons); not_assessed: no class (the panel lacks what the model needs, "
    "see reasons)."
)


class OutcomeFieldsSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=rules.OUTCOMES, help_text=OUTCOME_HELP)
    reasons = ReasonSerializer(many=True, help_text="Why refer or why not assessed; empty when assessed.")
    warnings = ReasonSerializer(many=True, help_text="Input values to check (suspected unit, unusual value...).")
    notes = NoteSerializer(many=True, help_text="Findings shown beside the answer; the outcome stands.")
    pattern = PatternSerializer(allow_null=True, help_text="The guideline reading of the values, when made.")


class PredictionResultSerializer(OutcomeFieldsSerializer):
    """The shape of a prediction (the predict endpoints' answers)."""

    # Serializes an mlcore PredictionResult, or a stored Prediction (the same attributes); the version that
    # scored it is the context's model_version.

    predicted_class = serializers.ChoiceField(choices=CLASSES, allow_null=True, help_text="null when not assessed.")
    probabilities = ProbabilitiesSerializer(allow_null=True, help_text="null when not assessed.")
    uncertain = serializers.BooleanField(help_text="True whenever the outcome is not assessed (refer for review).")
    conditions = ConditionSerializer(
        many=True, help_text="Each condition the model answers, in a fixed order; empty when not assessed."
    )
    explanation = ExplanationItemSerializer(many=True)
    model_version = serializers.CharField()

    def to_representation(self, result) -> dict:
        probabilities = result.probabilities
        return {
            "outcome": result.outcome,
            "reasons": with_messages(result.reasons),
            "warnings": with_messages(result.warnings),
            "notes": with_messages(result.notes),
            "pattern": with_message(result.pattern),
            "predicted_class": result.predicted_class or None,
            "probabilities": {name: float(probabilities[name]) for name in CLASSES} if probabilities else None,
            "uncertain": bool(result.uncertain),
            "conditions": conditions_data(result.conditions),
            "explanation": result.explanation,
            "model_version": self.context["model_version"],
        }


@dataclass
class StoredAnswer:
    """A panel stored for a patient and its prediction, as the predict endpoint answers them."""

    patient_id: int
    panel_id: int
    prediction: object


class PredictResponseSerializer(PredictionResultSerializer):
    patient_id = serializers.IntegerField(required=False, help_text="With store=true.")
    panel_id = serializers.IntegerField(required=False, help_text="With store=true.")
    prediction_id = serializers.IntegerField(required=False, help_text="With store=true.")

    def to_representation(self, answer) -> dict:
        if not isinstance(answer, StoredAnswer):
            return super().to_representation(answer)
        return {
            **super().to_representation(answer.prediction),
            "patient_id": answer.patient_id,
            "panel_id": answer.panel_id,
            "prediction_id": answer.prediction.pk,
        }


class BulkPredictResponseSerializer(serializers.Serializer):
    model_version = serializers.CharField()
    count = serializers.IntegerField()
    results = PredictionResultSerializer(many=True, help_text="In the order of the panels; explanation is empty.")

    def to_representation(self, results) -> dict:
        answer = PredictionResultSerializer(context=self.context)
        return {
            "model_version": self.context["model_version"],
            "count": len(results),
            "results": [answer.to_representation(result) for result in results],
        }
