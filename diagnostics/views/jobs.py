"""Training runs and scoring jobs: lists with live progress, details, start forms (the work itself is in tasks)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from diagnostics import selectors
from diagnostics.access import DATA_MANAGER, role_required
from diagnostics.forms import ScoringJobForm, TrainingRunForm
from diagnostics.models import JobStatus, ScoringJob, TrainingRun
from diagnostics.services.audit import record_event
from diagnostics.services.health import BrokerUnavailable
from diagnostics.services.reviews import reviewed_label_counts
from diagnostics.services.scoring_jobs import start_scoring_job, template_csv
from diagnostics.services.training import start_training_run
from mlcore.schema import LAB_TESTS


def _started_message(request, job, started: str) -> None:
    """The banner after a start: "started" only for a job still queued or running; a job that already ended
    (a file with no row to score, or a task run in-process) says how it ended."""
    job.refresh_from_db(fields=["status", "message"])
    if job.status == JobStatus.SUCCEEDED:
        messages.success(request, _("Job %(id)s finished.") % {"id": job.pk})
    elif job.status == JobStatus.FAILED:
        messages.error(request, _("Job %(id)s failed: %(message)s") % {"id": job.pk, "message": job.message})
    else:
        messages.success(request, started)


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
    form, status = TrainingRunForm(request.POST, request.FILES), 400
    if form.is_valid():
        params = {"epochs": form.cleaned_data["epochs"]} if form.cleaned_data["epochs"] else None
        try:
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
            _started_message(request, run, _("Training run %(id)s started.") % {"id": run.pk})
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
    context = {"job": job, "rejected": job.rejected[:500], **_preview(job.preview)}
    return render(request, "diagnostics/scoring_detail.html", context)


def _preview(preview: dict) -> dict:
    """The results preview for the page: counts per outcome and class, and the first rows with only the lab
    columns they use."""
    if not preview:
        return {}
    rows = preview.get("rows", [])
    labs = [name for name in LAB_TESTS if any(row.get(name) for row in rows)]
    return {
        "preview_counts": preview.get("counts", {}),
        "preview_labs": labs,
        "preview_rows": [{**row, "labs": [row.get(name, "") for name in labs]} for row in rows],
    }


@role_required(DATA_MANAGER)
def scoring_template(request):
    """The CSV template for a scoring file: the record number and the lab columns with their units, the
    optional columns, and one example row."""
    response = HttpResponse(template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="thyroweb-scoring-template.csv"'
    return response


@require_POST
@role_required(DATA_MANAGER)
def scoring_start(request):
    form, status = ScoringJobForm(request.POST, request.FILES), 400
    if form.is_valid():
        try:
            job = start_scoring_job(
                user=request.user,
                request=request,
                uploaded_file=form.cleaned_data["uploaded_file"],
                mode=form.cleaned_data["mode"],
            )
        except BrokerUnavailable as error:
            form.add_error(None, str(error))
            status = 503  # nothing wrong with the input: try again later
        except ValidationError as error:
            form.add_error("uploaded_file", error)
        else:
            _started_message(request, job, _("Scoring job %(id)s started.") % {"id": job.pk})
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
