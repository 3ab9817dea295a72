"""The database's own word on balance: a commit that leaves an entry unbalanced is refused,
whatever wrote the lines (here raw SQL, past the posting service and its check)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from journals.models import JournalEntry, JournalLine
from tests.journals.conftest import sold

pytestmark = pytest.mark.django_db(transaction=True)

INSERT = (
    "INSERT INTO journals_journalline (entry_id, account_id, debit, credit, dimensions, "
    "description, fx_rate_source) VALUES (%s, %s, %s, %s, '{}', 'by hand', '')"
)


def test_a_commit_that_leaves_an_entry_unbalanced_is_refused(books):
    sold(books)  # committed: the relay ran after commit and posted it
    entry = JournalEntry.objects.get()
    revenue = entry.lines.get(account__code="4000")
    before = list(entry.lines.values_list("pk", "debit", "credit").order_by("pk"))

    with (
        pytest.raises(IntegrityError, match="does not balance"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(INSERT, [entry.pk, revenue.account_id, Decimal("1.00"), 0])
        assert cursor.rowcount == 1  # accepted until the commit: the check is deferred to it

    assert list(entry.lines.values_list("pk", "debit", "credit").order_by("pk")) == before
    with pytest.raises(IntegrityError), transaction.atomic():
        JournalLine.objects.filter(pk=revenue.pk).update(credit=Decimal("219.99"))

    with transaction.atomic(), connection.cursor() as cursor:  # both sides at once: kept
        cursor.execute(INSERT, [entry.pk, revenue.account_id, Decimal("1.00"), 0])
        cursor.execute(INSERT, [entry.pk, revenue.account_id, 0, Decimal("1.00")])
    assert entry.lines.count() == len(before) + 2
