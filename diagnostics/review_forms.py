"""Forms of the review worklist, the review of a panel and the monitoring page."""

from django import forms
from django.utils.translation import gettext_lazy as _

from diagnostics.models import MonitoringSnapshot, ReviewDiagnosis
from diagnostics.services.review_queue import AGE_CHOICES, QUEUE_REASONS, REASON_CODES
from diagnostics.services.reviews import COMMENT_MAX
from mlcore.schema import CLASSES

AGREE = "agree"


def queue_reason_label(code: str) -> str:
    labels = {
        "refer": _("referred (any reason)"),
        "not_assessed": _("not assessed"),
        "abnormal": _("abnormal class"),
        "sample": _("random sample of normal results"),
        "low_confidence": _("low confidence"),
        "outside_training_range": _("value outside the training data"),
        "unusual_combination": _("unusual combination of values"),
        "discordant_low_tsh_low_thyroxine": _("low or normal TSH with low thyroxine"),
        "discordant_high_tsh_high_thyroxine": _("high TSH with high thyroxine"),
        "normal_with_abnormal_hormone": _("normal class with a hormone out of range"),
        "suppressed_tsh_without_thyroxine": _("suppressed TSH without thyroxine"),
        "context_not_covered": _("context the model was not made for"),
        "model_disagrees_with_reading": _("model disagrees with the guideline reading"),
        "tsh_missing": _("TSH missing"),
    }
    return str(labels.get(code, code.replace("_", " ")))


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Your review"),
        widget=forms.RadioSelect,
        choices=[(AGREE, _("I agree with the prediction")), *ReviewDiagnosis.choices],
        help_text=_("Agree, or choose the final diagnosis."),
    )
    comment = forms.CharField(
        label=_("Comment (optional)"), required=False, max_length=COMMENT_MAX, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, can_agree: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not can_agree:  # not assessed: there is no class to agree with
            self.fields["decision"].choices = ReviewDiagnosis.choices


class WorklistFilterForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("Reason"),
        required=False,
        choices=[("", _("any"))]
        + [(code, "") for code in QUEUE_REASONS]
        + [(code, "") for code in REASON_CODES if code not in QUEUE_REASONS],
    )
    predicted_class = forms.ChoiceField(
        label=_("Predicted class"),
        required=False,
        choices=[("", _("any")), *[(c, c) for c in CLASSES], ("none", _("none (not assessed)"))],
    )
    older_than = forms.TypedChoiceField(
        label=_("Waiting for"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", _("any time")), *[(str(d), "") for d in AGE_CHOICES]],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = [("", _("any"))] + [
            (code, queue_reason_label(code)) for code, _label in self.fields["reason"].choices[1:]
        ]
        self.fields["older_than"].choices = [("", _("any time"))] + [
            (str(d), _("more than %(n)s days") % {"n": d} if d > 1 else _("more than a day")) for d in AGE_CHOICES
        ]


class MonitoringPeriodForm(forms.Form):
    period = forms.ChoiceField(label=_("Figures by"), required=False, choices=MonitoringSnapshot.Period.choices)
