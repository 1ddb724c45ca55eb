"""Page forms. A panel's values are read by the one intake (``mlcore.intake.take_panel``: units, decimal
commas, ``<``/``>`` qualifiers, ranges), its errors shown on the fields in the page's language."""

import hashlib
import json

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.formats import get_format
from django.utils.translation import gettext_lazy as _

from diagnostics.labels import FLAG_LABELS, referral_label, tidy_message
from diagnostics.models import SEX_CHOICES, ModelVersion, Patient, ScoringJob
from diagnostics.services.intake import RECORD_NUMBER_MAX, plausible_date_of_birth
from mlcore import rules, units
from mlcore.intake import Panel, decimal_point, split_qualifier, take_panel
from mlcore.schema import AGE_MAX, AGE_MIN, HISTORY_FLAGS, LAB_TESTS, REFERRAL_SOURCES, InputError

NUMERIC_FIELDS = ("age", *LAB_TESTS)


def _number_text(value: float) -> str:
    """A number as the current language writes it (4.5 in English, 4,5 in French)."""
    return f"{value:g}".replace(".", get_format("DECIMAL_SEPARATOR"))


def _parse_number(text: str) -> float | None:
    """The number typed (a decimal comma or a ``<``/``>`` qualifier allowed), or None."""
    try:
        return float(decimal_point(split_qualifier(text)[1]))
    except ValueError:
        return None


def _plausible_range(field: str) -> tuple[float, float, str]:
    if field == "age":
        return float(AGE_MIN), float(AGE_MAX), str(_("years"))
    test = LAB_TESTS[field]
    return test.plausible_min, test.plausible_max, test.unit


def localized_error(error: InputError, text: str, unit: str | None = None) -> str:
    """The intake's error for a numeric field, in the current language (the value in ThyroWeb's unit, as the
    plausible range is, when it was typed in another ``unit``); other errors as the intake words them."""
    if error.field not in NUMERIC_FIELDS:
        return error.message
    number = _parse_number(text)
    low, high, our_unit = _plausible_range(error.field)
    params = {"field": _("Age") if error.field == "age" else error.field, "value": text.strip(), "unit": our_unit}
    if number is None:
        return _("%(field)s “%(value)s” is not a number.") % params
    if unit and error.field in LAB_TESTS:
        number *= units.factor(error.field, unit)
    params["value"] = _number_text(number)
    if number < 0:
        return _("%(field)s %(value)s %(unit)s is negative; it must be at least 0.") % params
    if number < low:
        return _("%(field)s %(value)s %(unit)s is below the plausible minimum %(low)s %(unit)s.") % {
            **params,
            "low": _number_text(low),
        }
    if number > high:
        return _("%(field)s %(value)s %(unit)s is above the plausible maximum %(high)s %(unit)s.") % {
            **params,
            "high": _number_text(high),
        }
    return error.message


def _lab_help(name: str) -> str:
    test = LAB_TESTS[name]
    unit = test.unit or _("ratio, no unit")
    return _("%(unit)s; reference %(low)s–%(high)s") % {
        "unit": unit,
        "low": _number_text(test.reference_low),
        "high": _number_text(test.reference_high),
    }


class DecimalTextInput(forms.TextInput):
    """A text box for a decimal in either notation (4.5 or 4,5) and results such as <0.005."""

    def __init__(self, attrs=None):
        super().__init__({"inputmode": "decimal", "autocomplete": "off", "size": 8, **(attrs or {})})


def warnings_digest(warnings: list[rules.Reason]) -> str:
    """A short fingerprint of the warnings a user was shown (a confirmation counts for these only)."""
    text = json.dumps([warning.to_dict() for warning in warnings], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class LabPanelForm(forms.Form):
    """A new lab panel for an existing or a new patient.

    Values that raise input warnings (mlcore.rules.input_warnings: a suspected unit, an unusual value...)
    are saved only once the user has seen the warnings and confirmed that the values are checked.
    """

    record_number = forms.CharField(label=_("Medical record number"), max_length=RECORD_NUMBER_MAX)
    new_patient = forms.BooleanField(label=_("New patient (create this record number)"), required=False)
    sex = forms.ChoiceField(label=_("Sex"), choices=[("", _("unknown")), *SEX_CHOICES], required=False)
    collected_at = forms.DateTimeField(
        label=_("Collected at"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    date_of_birth = forms.DateField(
        label=_("Date of birth"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("optional; kept with the patient, and gives the age when the age is left empty"),
    )
    age = forms.CharField(label=_("Age"), required=False, widget=DecimalTextInput(), help_text=_("years, 0–120"))
    referral_source = forms.ChoiceField(
        label=_("Referral source"),
        choices=[(s, _("other") if s == "other" else s) for s in REFERRAL_SOURCES],
        initial="other",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["collected_at"].initial = timezone.localtime().replace(second=0, microsecond=0)
        for flag in HISTORY_FLAGS:
            self.fields[flag] = forms.BooleanField(label=FLAG_LABELS[flag], required=False)
        self.fields["referral_source"].choices = [(s, referral_label(s)) for s in REFERRAL_SOURCES]
        site_units = getattr(settings, "THYROWEB_DEFAULT_UNITS", {})
        for name, test in LAB_TESTS.items():
            self.fields[name] = forms.CharField(
                label=name, required=False, max_length=32, widget=DecimalTextInput(), help_text=_lab_help(name)
            )
            self.fields[name].test = test
            # The unit the value is written in, as the lab sent it: converted to ours on saving.
            self.fields[f"{name}_unit"] = forms.ChoiceField(
                label=_("%(test)s unit") % {"test": name},
                choices=[(code, units.display(code)) for code in units.accepted(name)],
                initial=site_units.get(name, units.our_unit(name)),
                required=False,
            )
        self.fields["confirm_warnings"] = forms.BooleanField(label=_("I have checked these values"), required=False)
        self.fields["warnings_shown"] = forms.CharField(required=False, widget=forms.HiddenInput, max_length=64)
        self.patient: Patient | None = None
        self.panel: Panel | None = None
        self.input_warnings: list[rules.Reason] = []

    @property
    def flag_fields(self):
        return [self[flag] for flag in HISTORY_FLAGS]

    @property
    def lab_fields(self):
        return [self[name] for name in LAB_TESTS]

    @property
    def lab_fields_with_units(self):
        """(value field, unit field) per lab test: the form shows a unit select beside each value."""
        return [(self[name], self[f"{name}_unit"]) for name in LAB_TESTS]

    def clean_record_number(self) -> str:
        return self.cleaned_data["record_number"].strip()

    def clean_date_of_birth(self):
        born = self.cleaned_data.get("date_of_birth")
        if born is not None and not plausible_date_of_birth(born):
            raise forms.ValidationError(_("The date of birth must be a past date after 1880."))
        return born

    def clean(self):
        cleaned = super().clean()
        self._clean_patient(cleaned)
        born, collected = cleaned.get("date_of_birth"), cleaned.get("collected_at")
        if born is not None and collected is not None and born > timezone.localtime(collected).date():
            self.add_error("date_of_birth", _("The date of birth is after the collection date."))
        raw = {field: (cleaned.get(field) or "").strip() for field in NUMERIC_FIELDS}
        raw.update({flag: bool(cleaned.get(flag)) for flag in HISTORY_FLAGS})
        raw["sex"] = cleaned.get("sex") or (self.patient.sex if self.patient else "") or None
        raw["referral_source"] = cleaned.get("referral_source") or "other"
        # The unit each value is written in, as the lab sent it (a choice of the test's units).
        chosen = {name: cleaned.get(f"{name}_unit") or None for name in LAB_TESTS}
        intake = take_panel({key: value for key, value in raw.items() if value != ""}, units=chosen)
        for error in intake.errors:
            if error.field == "labs":
                message = _("Enter at least one lab value (%(tests)s); TSH is needed for an assessment.")
                self.add_error(None, message % {"tests": ", ".join(LAB_TESTS)})
            else:
                field = error.field if error.field in self.fields else None
                typed = raw.get(error.field) or ""
                self.add_error(field, tidy_message(localized_error(error, typed, chosen.get(error.field))))
        if intake.panel is not None:
            self.input_warnings = rules.input_warnings(intake.panel.record())
        self.panel = intake.panel
        return cleaned

    def needs_confirmation(self) -> bool:
        """Whether the valid values raise warnings the user has not confirmed (this very set of warnings);
        if so, the form is made ready to ask: the next submission confirms the warnings shown now."""
        if not self.input_warnings:
            return False
        digest = warnings_digest(self.input_warnings)
        confirmed = self.cleaned_data.get("confirm_warnings") and self.cleaned_data.get("warnings_shown") == digest
        if not confirmed:  # a checkbox ticked for other values, or without seeing the warnings, does not count
            self.data = self.data.copy()
            self.data["warnings_shown"] = digest
            self.data["confirm_warnings"] = ""
        return not confirmed

    def _post_clean(self):
        super()._post_clean()
        # Screen readers read a field's error with the field (the error list has the id <field id>_error).
        for name in self.errors:
            if name in self.fields:
                described = [f"{self[name].auto_id}_error"]
                if self.fields[name].help_text:
                    described.append(f"{self[name].auto_id}_helptext")
                self.fields[name].widget.attrs["aria-describedby"] = " ".join(described)

    def _clean_patient(self, cleaned: dict) -> None:
        number = cleaned.get("record_number")
        if not number:
            return
        patient = Patient.objects.filter(record_number=number).first()
        if patient is not None and patient.deleted_at is not None:
            self.add_error("record_number", _("This record number belongs to a deleted patient."))
        elif patient is not None and cleaned.get("new_patient"):
            self.add_error(
                "record_number",
                _("A patient already has this record number: untick “new patient” to add a panel for them."),
            )
        elif patient is None and not cleaned.get("new_patient"):
            self.add_error("record_number", _("No patient has this record number: tick “new patient” to create one."))
        else:
            self.patient = patient


class PatientSearchForm(forms.Form):
    q = forms.CharField(label=_("Record number contains"), max_length=64, required=False)


class ModelActivationForm(forms.Form):
    override_reason = forms.CharField(
        label=_("Reason for overriding the promotion rule (only if the candidate is not at least as good)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ModelCompareForm(forms.Form):
    a = forms.ModelChoiceField(label=_("Version A"), queryset=ModelVersion.objects.all())
    b = forms.ModelChoiceField(label=_("Version B"), queryset=ModelVersion.objects.all())


class TrainingRunForm(forms.Form):
    epochs = forms.IntegerField(
        label=_("Epochs"), required=False, min_value=1, max_value=500, help_text=_("leave empty for the default")
    )
    data_file = forms.FileField(label=_("Extra training data (UCI thyroid0387 format, optional)"), required=False)
    include_reviews = forms.BooleanField(
        label=_("Add the panels clinicians reviewed (their final diagnosis as the label)"), required=False
    )


class ScoringJobForm(forms.Form):
    uploaded_file = forms.FileField(
        label=_("Panels to score (CSV with the schema's column names, or UCI thyroid0387 format)"),
        help_text=_("Only the record number and one lab column are needed; see the template."),
    )
    # No default: whether the rows become patients' panels is said at each upload.
    mode = forms.ChoiceField(
        label=_("What to do with the rows"), choices=ScoringJob.Mode.choices, widget=forms.RadioSelect
    )
