"""An entry's life from its page's buttons: the first approval, the second-approver rule's
refusal shown as a message, the second approval, posting to an ERP that is a real HTTP server
on this machine (tests/journals/test_lifecycle.py) with its delivery log, and the reversal."""

from __future__ import annotations

import re

import pytest

from journals.models import DeliveryLog, JournalEntry
from tests.journals.conftest import dispatch
from tests.journals.pages import figure, messages_of, page_client, rows, sold_numbered
from tests.journals.test_lifecycle import erp  # noqa: F401  (the local ERP as a fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(books) -> JournalEntry:  # type: ignore[no-untyped-def]
    sold_numbered(books)
    dispatch()
    return JournalEntry.objects.get()


def buttons(page: str) -> list[str]:
    return re.findall(r'data-action="([\w-]+)"', page)


def test_above_the_threshold_the_same_person_s_second_approval_is_refused_with_the_rule(
    books, entry, settings
):
    settings.JOURNAL_SECOND_APPROVAL_ABOVE = "300"  # the entry's debits are 322.60
    fred, fiona = page_client(books.finance), page_client(books.finance2)
    url = f"/journals/{entry.pk}/"
    assert "two different approvers must approve it" in fred.get(url).content.decode()

    first = fred.post(f"{url}approve", follow=True)
    assert first.redirect_chain == [(url, 302)]
    page = first.content.decode()
    assert messages_of(page) == [
        f"First approval of {entry.number}: it waits for a second, different approver."
    ]
    assert figure(page, "approvals") == "fred (awaits a second approver)"
    assert "approved once by fred, it waits for a second, different approver" in page
    assert buttons(page) == ["approve"]

    again = fred.post(f"{url}approve", follow=True).content.decode()
    assert messages_of(again) == [
        f"{entry.number} is over 300 USD: a second, different approver must approve it"
    ]
    entry.refresh_from_db()
    assert (entry.status, entry.second_approver_id) == ("draft", None)

    second = fiona.post(f"{url}approve", follow=True).content.decode()
    assert messages_of(second) == [f"{entry.number} approved."]
    assert figure(second, "approvals") == "fred, fiona"
    assert buttons(second) == ["post"]
    entry.refresh_from_db()
    assert (entry.status, entry.approved_by, entry.second_approver) == (
        "approved",
        books.finance.user,
        books.finance2.user,
    )


@pytest.mark.usefixtures("erp")
def test_post_from_the_page_delivers_to_the_erp_and_the_delivery_log_shows_the_attempt(
    books, entry, django_capture_on_commit_callbacks
):
    fred = page_client(books.finance)
    url = f"/journals/{entry.pk}/"
    assert buttons(fred.post(f"{url}approve", follow=True).content.decode()) == ["post"]

    with django_capture_on_commit_callbacks(execute=True):
        posted = fred.post(f"{url}post", follow=True)

    assert messages_of(posted.content.decode()) == [
        f"{entry.number} handed to its ERP: the delivery log shows each attempt."
    ]
    page = fred.get(url).content.decode()
    assert figure(page, "erp-document") == "DOC-1"
    [attempt] = rows(page, "deliveries")
    assert attempt[:6] == ["1", attempt[1], "local", "delivered", "DOC-1", "—"]
    log = DeliveryLog.objects.get(entry=entry)
    assert f'"key": "{entry.number}"' in log.request
    assert '"document": "DOC-1"' in log.response
    assert "&quot;key&quot;: &quot;" + entry.number in page  # the request, escaped, on the page
    assert buttons(page) == ["reverse"]


@pytest.mark.usefixtures("erp")
def test_reverse_from_the_page_makes_a_draft_with_every_line_swapped(
    books, entry, django_capture_on_commit_callbacks
):
    fred = page_client(books.finance)
    url = f"/journals/{entry.pk}/"
    fred.post(f"{url}approve", follow=True)  # followed: each message read on its page
    with django_capture_on_commit_callbacks(execute=True):
        fred.post(f"{url}post", follow=True)

    reversed_ = fred.post(f"{url}reverse", {"note": "wrong day", "posting_date": ""}, follow=True)

    reversal = JournalEntry.objects.get(reversal_of=entry)
    assert reversed_.redirect_chain == [(f"/journals/{reversal.pk}/", 302)]
    page = reversed_.content.decode()
    assert messages_of(page) == [
        f"{reversal.number} made: a draft that reverses entry {entry.pk}, to approve and post."
    ]
    assert f'Reverses <a href="/journals/{entry.pk}/">{entry.number}</a>' in page
    assert "wrong day" in page
    lines = {(r[1], r[5]): (r[2], r[3]) for r in rows(page, "lines")}
    assert lines[("4000 Sales revenue", "Sales revenue")] == ("220.00", "")
    assert lines[("1100 Channel clearing", "Channel clearing (stripe)")] == ("", "224.60")
    assert (figure(page, "debit"), figure(page, "credit")) == ("322.60 USD", "322.60 USD")
    assert buttons(page) == ["approve"]
    original = fred.get(url).content.decode()
    assert f'Reversed by <a href="/journals/{reversal.pk}/">{reversal.number}</a>' in original
    assert buttons(original) == []

    again = fred.post(f"{url}reverse", {"note": ""}, follow=True).content.decode()
    assert messages_of(again) == [f"{entry.number} is reversed already"]
    assert JournalEntry.objects.filter(reversal_of=entry).count() == 1


def test_a_step_the_state_does_not_allow_is_refused_as_a_message(books, entry):
    fred = page_client(books.finance)

    refused = fred.post(f"/journals/{entry.pk}/post", follow=True).content.decode()

    assert messages_of(refused) == [
        f"{entry.number} is draft: only an approved or failed entry is posted"
    ]
    entry.refresh_from_db()
    assert entry.status == "draft"


def test_the_buttons_post_with_csrf_and_only_known_steps(books, entry):
    guarded = page_client(books.finance, enforce_csrf_checks=True)
    assert guarded.post(f"/journals/{entry.pk}/approve").status_code == 403
    fred = page_client(books.finance)
    assert fred.get(f"/journals/{entry.pk}/approve").status_code == 405
    assert fred.post(f"/journals/{entry.pk}/delete").status_code == 404
    assert fred.post("/journals/999999/approve").status_code == 404
    entry.refresh_from_db()
    assert (entry.status, entry.approved_by_id) == ("draft", None)
