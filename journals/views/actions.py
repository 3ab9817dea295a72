"""Each step of an entry's life from its page: approve (a second, different approver above the
threshold), post to the legal entity's ERP, reverse a posted entry. The service the API calls
does it; what it refuses (the second-approver rule, a locked period, a state that does not
allow it) is shown on the entry's page as it says it."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from retailsync.core.audit import audit_note
from retailsync.core.errors import DomainError, NotFound
from retailsync.core.views import roles_required

from ..forms import ReverseForm
from ..models import JournalEntry
from ..services.lifecycle import (
    journal_entry_approve,
    journal_entry_post,
    journal_entry_reverse,
)

finance_page = roles_required("finance")
ACTIONS = ("approve", "post", "reverse")


def _refused(exc: DomainError) -> str:
    return " ".join(e.message for e in exc.errors)


@finance_page
@require_POST
def entry_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise Http404(action)
    now, user = timezone.now(), request.user
    try:
        if action == "approve":
            entry = journal_entry_approve(entry_id=pk, user=user, now=now)
            if entry.status == JournalEntry.Status.APPROVED:
                done = f"{entry} approved."
            else:
                done = f"First approval of {entry}: it waits for a second, different approver."
        elif action == "post":
            entry = journal_entry_post(entry_id=pk, now=now)
            done = f"{entry} handed to its ERP: the delivery log shows each attempt."
        else:
            form = ReverseForm(request.POST)
            if not form.is_valid():
                messages.error(request, f"Not reversed: {form.errors.as_text()}")
                return redirect("journal-entry-page", pk=pk)
            reversal = journal_entry_reverse(
                entry_id=pk,
                user=user,
                now=now,
                posting_date=form.cleaned_data["posting_date"],
                note=form.cleaned_data["note"],
            )
            done = f"{reversal} made: a draft that reverses entry {pk}, to approve and post."
            messages.success(request, done)
            audit_note(request, f"{reversal} reverses entry {pk}")
            return redirect("journal-entry-page", pk=reversal.pk)
    except NotFound as exc:
        raise Http404(str(exc)) from None
    except DomainError as exc:
        messages.error(request, _refused(exc))
        return redirect("journal-entry-page", pk=pk)
    messages.success(request, done)
    audit_note(request, done)
    return redirect("journal-entry-page", pk=pk)
