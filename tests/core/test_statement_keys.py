"""The foreign keys PostgreSQL checked a row at a time, now checked a statement at a time
(retailsync/core/statement_keys.py): the same refusals, as Django's IntegrityError."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from settlements.models import SettlementBatch, SettlementLine
from tests.settlements.flows import upload

pytestmark = pytest.mark.django_db


def execute(sql: str, params: list[Any]) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def line(stripe_orders: Any) -> SettlementLine:
    assert upload("flows/stripe_po_first.csv", "stripe").status == "done"
    found = SettlementLine.objects.filter(order__isnull=False, expected__isnull=False).first()
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("column", "parent"),
    [("batch_id", "settlements_settlementbatch"), ("order_id", "orders_order")],
)
def test_a_line_naming_a_parent_that_does_not_exist_is_refused(
    line: SettlementLine, column: str, parent: str
) -> None:
    with pytest.raises(IntegrityError, match=f'{column}=987654 is not in "{parent}"'):
        execute(f"UPDATE settlements_settlementline SET {column} = 987654 WHERE id = %s", [line.pk])
    copied = {"batch_id": "batch_id", "order_id": "order_id", column: "987654"}
    with pytest.raises(IntegrityError, match=column):
        execute(
            "INSERT INTO settlements_settlementline (batch_id, provider, line_key, row, kind, "
            "currency, gross, fee, net, order_ref, payment_ref, related_ref, payment_method, "
            "description, raw, outcome, rule, reason, manual, note, order_id) "
            f"SELECT {copied['batch_id']}, provider, 'x', row, kind, currency, gross, fee, net, "
            f"'', '', '', '', '', '', outcome, '', '', false, '', {copied['order_id']} "
            "FROM settlements_settlementline WHERE id = %s",
            [line.pk],
        )
    assert SettlementLine.objects.get(pk=line.pk).order_id == line.order_id  # nothing changed


def test_a_parent_with_lines_cannot_be_deleted_behind_the_apps_back(line: SettlementLine) -> None:
    for table, pk in (
        ("settlements_settlementbatch", line.batch_id),
        ("settlements_expectedsettlement", line.expected_id),
        ("orders_order", line.order_id),
    ):
        with pytest.raises(IntegrityError, match="is still in"):
            execute(f"DELETE FROM {table} WHERE id = %s", [pk])
    assert SettlementBatch.objects.filter(pk=line.batch_id).exists()


def test_the_apps_own_delete_still_cascades(line: SettlementLine) -> None:
    batch = SettlementBatch.objects.get(pk=line.batch_id)
    assert batch.lines.count() == 4
    SettlementBatch.objects.filter(pk=batch.pk).delete()  # on_delete CASCADE, lines first
    assert not SettlementLine.objects.filter(batch_id=batch.pk).exists()


def test_a_journal_source_link_to_no_line_is_refused(db: None) -> None:
    with pytest.raises(IntegrityError, match='line_id=987654 is not in "journals_journalline"'):
        execute(
            "INSERT INTO journals_journallinesource (line_id, source_type, source_id, amount) "
            "VALUES (987654, 'order', 1, 1)",
            [],
        )


def test_only_the_trusted_table_goes_unchecked_and_only_inside_the_block(
    line: SettlementLine,
) -> None:
    from retailsync.core.statement_keys import keys_trusted

    bad_line = "UPDATE settlements_settlementline SET order_id = 987654 WHERE id = %s"
    bad_link = (
        "INSERT INTO journals_journallinesource (line_id, source_type, source_id, amount) "
        "VALUES (987654, 'order', 1, 1)"
    )
    with transaction.atomic():
        with keys_trusted("settlements_settlementline"):
            execute(bad_line, [line.pk])  # the caller vouches for its keys: not looked up
            with pytest.raises(IntegrityError, match="line_id=987654"):
                execute(bad_link, [])  # another table: checked
        with pytest.raises(IntegrityError, match="order_id=987654"):
            execute(bad_line, [line.pk])  # after the block: checked again
        transaction.set_rollback(True)
    assert SettlementLine.objects.get(pk=line.pk).order_id == line.order_id
