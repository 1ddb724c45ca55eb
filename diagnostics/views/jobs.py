"""Training runs and scoring jobs: lists with live progress, details, start forms (the work itself is in tasks)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from diagnostics import selectors
from diagnostics.access import DATA_MANAGER, role_required
from diagnostics.forms import ScoringJobForm, TrainingRunForm
from diagnostics.models import ScoringJob, TrainingRun
from diagnostics.services.audit import record_event
from diagnostics.services.health import BrokerUnavailable, require_broker
from diagnostics.services.reviews import reviewed_label_counts


def _ids(request) -> list[int]:
    return [int(part) for part in request.GET.get("ids", "").split(",") if part.strip().isdigit()][:100]


@role_required(DATA_MANAGER)
def training_list(request):
    return render(
        request,
        "diagnostics/training_list.html",
        {"runs": selectors.training_runs(), "form": TrainingRunForm(), "reviewed": reviewed_label_counts()},
    )


@role_required(DATA_MANAGER)
def training_detail(request, pk: int):
    run = get_object_or_404(TrainingRun.objects.select_related("result_version", "started_by"), pk=pk)
    stages = selectors.training_stages(run.history)
    return render(request, "diagnostics/training_detail.html", {"run": run, "stages": stages, "charts": stages})


@require_POST
@role_required(DATA_MANAGER)
def training_start(request):
    from diagnostics.services.training import start_training_run

    form, status = TrainingRunForm(request.POST, request.FILES), 400
    if form.is_valid():
        params = {"epochs": form.cleaned_data["epochs"]} if form.cleaned_data["epochs"] else None
        try:
            require_broker()
            run = start_training_run(
                user=request.user,
                request=request,
                data_file=form.cleaned_data["data_file"],
                params=params,
                include_reviews=form.cleaned_data["include_reviews"],
            )
        except BrokerUnavailable as error:
            form.add_error(None, str(error))
            status = 503  # nothing wrong with the input: try again later
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Training run %(id)s started.") % {"id": run.pk})
            return redirect("training_detail", pk=run.pk)
    context = {"runs": selectors.training_runs(), "form": form, "reviewed": reviewed_label_counts()}
    return render(request, "diagnostics/training_list.html", context, status=status)


@role_required(DATA_MANAGER)
def training_progress(request):
    return JsonResponse({"jobs": selectors.job_progress(TrainingRun, _ids(request))})


@role_required(DATA_MANAGER)
def scoring_list(request):
    return render(
        request, "diagnostics/scoring_list.html", {"jobs": selectors.scoring_jobs(), "form": ScoringJobForm()}
    )


@role_required(DATA_MANAGER)
def scoring_detail(request, pk: int):
    job = get_object_or_404(ScoringJob.objects.select_related("model_version", "created_by"), pk=pk)
    return render(request, "diagnostics/scoring_detail.html", {"job": job, "rejected": job.rejected[:500]})


@require_POST
@role_required(DATA_MANAGER)
def scoring_start(request):
    from diagnostics.services.batch import start_scoring_job

    form, status = ScoringJobForm(request.POST, request.FILES), 400
    if form.is_valid():
        try:
            require_broker()
            job = start_scoring_job(
                user=request.user, request=request, uploaded_file=form.cleaned_data["uploaded_file"]
            )
        except BrokerUnavailable as error:
            form.add_error(None, str(error))
            status = 503  # nothing wrong with the input: try again later
        except ValidationError as error:
            form.add_error("uploaded_file", error)
        else:
            messages.success(request, _("Scoring job %(id)s started.") % {"id": job.pk})
            return redirect("scoring_detail", pk=job.pk)
    context = {"jobs": selectors.scoring_jobs(), "form": form}
    return render(request, "diagnostics/scoring_list.html", context, status=status)


@role_required(DATA_MANAGER)
def scoring_progress(request):
    return JsonResponse({"jobs": selectors.job_progress(ScoringJob, _ids(request))})


@role_required(DATA_MANAGER)
def scoring_results(request, pk: int):
    job = get_object_or_404(ScoringJob, pk=pk)
    if not job.result_file:
        raise Http404("no results yet")
    record_event(action="scoring_job.download", request=request, obj=job)
    return FileResponse(job.result_file.open("rb"), as_attachment=True, filename=f"scoring-job-{job.pk}-results.csv")
