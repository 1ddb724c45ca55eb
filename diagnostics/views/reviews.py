"""The review worklist, and the review of a panel (its form: templates/diagnostics/_review_form.html)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from diagnostics import selectors
from diagnostics.access import CLINICIAN, has_role, role_required
from diagnostics.models import LabPanel
from diagnostics.review_forms import AGREE, ReviewForm, WorklistFilterForm, queue_reason_label
from diagnostics.services.review_queue import PER_PAGE, why_queued, worklist
from diagnostics.services.reviews import panel_review_history, record_review


def review_box(request, panel: LabPanel, prediction) -> dict:
    """What the result page's review box shows: the panel's current review and its history, and the form to
    review (or amend) it for a clinician."""
    history = panel_review_history(panel)
    return {
        "current": history[0] if history else None,
        "history": history,
        "form": ReviewForm(can_agree=bool(prediction is not None and prediction.predicted_class)),
        "can_review": has_role(request.user, CLINICIAN),
        "next": request.GET.get("next", ""),
    }


@role_required(CLINICIAN)
def review_worklist(request):
    form = WorklistFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    items = worklist(
        reason=filters.get("reason") or "",
        predicted_class=filters.get("predicted_class") or "",
        older_than_days=filters.get("older_than"),
    )
    page = Paginator(items, PER_PAGE).get_page(request.GET.get("page"))
    for prediction in page:
        prediction.queue_reason = queue_reason_label(why_queued(prediction))
    query = urlencode({k: v for k, v in filters.items() if v})
    return render(request, "diagnostics/review_worklist.html", {"form": form, "page": page, "query": query})


@require_POST
@role_required(CLINICIAN)
def review_create(request, pk: int):
    panel = get_object_or_404(LabPanel, pk=pk, patient__deleted_at__isnull=True)
    prediction = selectors.latest_prediction(panel)
    form = ReviewForm(request.POST, can_agree=bool(prediction and prediction.predicted_class))
    if form.is_valid():
        decision = form.cleaned_data["decision"]
        try:
            record_review(
                panel=panel,
                user=request.user,
                agrees=decision == AGREE,
                diagnosis="" if decision == AGREE else decision,
                comment=form.cleaned_data["comment"],
                prediction=prediction,
                request=request,
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("Your review is recorded."))
            target = request.POST.get("next", "")
            if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
                return redirect(target)
    else:
        messages.error(request, _("Choose whether you agree or the final diagnosis."))
    return redirect("panel_detail", pk=panel.pk)
