"""Uploading a settlement file from a page, and following it while a worker reads it.

The file is stored and the upload queued in the request; the worker is asked to read it once
the request has committed (the upload row must exist when the worker looks it up). The status
page shows where the upload stands as served, with a link to look again, and a small script
polls the API every second to move the progress bar; once the upload is done or failed, the
script puts the page's own final account (batches made, or the rows refused and why) in place.
"""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from retailsync.core.audit import audit_note
from retailsync.core.publish import task_publish
from retailsync.core.views import roles_required

from ..forms import UploadForm
from ..loading import upload_create
from ..models import SettlementBatch, Upload
from ..tasks import upload_process_task

finance_page = roles_required("finance")
RECENT = 10


def _publish_after_commit(upload_id: int) -> None:
    transaction.on_commit(lambda: task_publish(upload_process_task, upload_id=upload_id))


@finance_page
def upload_page(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            stream = form.cleaned_data["file"]
            upload = upload_create(
                stream=stream,
                name=stream.name or "upload",
                provider=form.cleaned_data["provider"],
                channel=form.channel_chosen(),
                user=request.user,  # type: ignore[arg-type]
                now=timezone.now(),
            )
            if upload.status == Upload.Status.QUEUED:
                _publish_after_commit(upload.pk)
            audit_note(
                request,
                f"settlement upload {upload.pk}: {upload.name} ({upload.provider}), "
                f"{upload.size} bytes, {upload.status}",
            )
            return redirect("settlement-upload-status", pk=upload.pk)
        status = 413 if form.too_large() else 400
    recent = Upload.objects.select_related("channel", "created_by").order_by("-created_at", "-pk")
    return render(
        request,
        "settlements/upload.html",
        {"form": form, "recent": recent[:RECENT]},
        status=status,
    )


@finance_page
def upload_status(request: HttpRequest, pk: int) -> HttpResponse:
    upload = get_object_or_404(Upload.objects.select_related("channel", "created_by"), pk=pk)
    finished = upload.status in (Upload.Status.DONE, Upload.Status.FAILED)
    batches = (
        SettlementBatch.objects.filter(pk__in=upload.batch_ids).order_by("pk")
        if upload.status == Upload.Status.DONE
        else SettlementBatch.objects.none()
    )
    return render(
        request,
        "settlements/upload_status.html",
        {"upload": upload, "finished": finished, "batches": batches},
    )
