"""The reconciliation bench's data, written in bulk (set-up only, not the product's paths):
channels in two legal entities, ORDERS orders in one month with a line each, most shipped,
expectations for the paid ones, and LINES settlement lines in a few payouts, half deposited.

    python -c "from bench.reconciliation_seed import seed; seed(200_000, 1_000_000)"
    (with DJANGO_SETTINGS_MODULE and DATABASE_URL set, as bench/reconciliation.py runs it)
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import django

MONTH = date(2026, 10, 1)


def _copy(table: str, columns: list[str], rows: list[tuple[object, ...]]) -> None:
    from django.db import connection

    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def seed(orders: int, lines: int) -> None:
    django.setup()
    from django.db import connection, transaction

    from orders.models import Order
    from retailsync.core.services import channel_create, user_create
    from settlements.models import SettlementBatch, Upload

    rng = random.Random(7)
    user_create(username="bench-finance", role="finance", password="bench-finance-password-1")
    web, _ = channel_create(code="web", source="shopify", currency="USD", legal_entity="US01")
    amazon, _ = channel_create(
        code="amazon-us", source="amazon", currency="USD", legal_entity="US01"
    )
    channel_create(code="woo-uk", source="woocommerce", currency="GBP", legal_entity="UK01")
    channels = [web, amazon]
    start = datetime(MONTH.year, MONTH.month, 1, tzinfo=UTC)
    with transaction.atomic():
        rows = []
        for n in range(orders):
            c = channels[n % 2]
            total = Decimal(rng.randint(1000, 20000)) / 100
            placed = start + timedelta(seconds=rng.randint(0, 30 * 86400 - 1))
            rows.append(
                Order(
                    channel=c,
                    external_id=f"B-{n}",
                    order_number=f"#{n}",
                    legal_entity_id=c.legal_entity_id,
                    currency="USD",
                    status="shipped",
                    placed_at=placed,
                    subtotal=total,
                    discount=0,
                    shipping=0,
                    tax=0,
                    total=total,
                    content_hash="bench",
                    correlation_id="bench",
                    created_at=placed,
                    updated_at=placed,
                )
            )
        Order.objects.bulk_create(rows, batch_size=5000)
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO orders_orderline (order_id, position, external_id, sku, name, quantity,"
                " unit_price, discount, tax, total, is_gift_card, quantity_shipped,"
                " quantity_cancelled, quantity_returned, metadata)"
                " SELECT id, 1, '', 'SKU-' || (id % 500), '', 1, total, 0, 0, total, false,"
                " CASE WHEN id % 10 = 0 THEN 0 ELSE 1 END, 0, 0, '{}' FROM orders_order"
            )
            cursor.execute(
                "INSERT INTO orders_shipment (order_id, external_id, location, shipped_at,"
                " tracking, correlation_id, created_at) SELECT id, '', 'WH', placed_at +"
                " interval '1 day', '', 'bench', placed_at FROM orders_order WHERE id % 10 <> 0"
            )
            cursor.execute(
                "INSERT INTO orders_shipmentline (shipment_id, line_id, quantity)"
                " SELECT s.id, l.id, 1 FROM orders_shipment s JOIN orders_orderline l"
                " ON l.order_id = s.order_id"
            )
            cursor.execute(
                "INSERT INTO settlements_expectedsettlement (order_id, kind, source, provider,"
                " payment_method, payment_ref, currency, gross, fee, expected_on, status,"
                " settled_gross, settled_fee, created_at) SELECT id, 'charge', 'bench:' || id,"
                " 'stripe', '', '', 'USD', total, -round(total * 0.029 + 0.30, 2),"
                " (placed_at + interval '2 days')::date,"
                " CASE WHEN id % 7 = 0 THEN 'open' ELSE 'settled' END, 0, 0, placed_at"
                " FROM orders_order"
            )
        upload = Upload.objects.create(provider="stripe", name="bench", sha256="bench")
        per_batch = max(lines // 5, 1)
        order_ids = list(Order.objects.values_list("pk", "channel_id", "total"))
        made = 0
        for b in range(5):
            deposit = MONTH + timedelta(days=5 + 5 * b)
            batch = SettlementBatch.objects.create(
                provider="stripe",
                key=f"po_BENCH{b}",
                channel=channels[b % 2],
                legal_entity_id=channels[b % 2].legal_entity_id,
                currency="USD",
                deposit_date=deposit,
                file_hash="bench",
                upload=upload,
                deposit_status="matched" if b % 2 == 0 else "pending",
                deposited_on=deposit if b % 2 == 0 else None,
                lines_count=per_batch,
                matched=per_batch,
            )
            rows = []
            for i in range(per_batch):
                order_id, _, total = order_ids[(made + i) % len(order_ids)]
                fee = -(total * Decimal("0.029") + Decimal("0.30")).quantize(Decimal("0.01"))
                posted = start + timedelta(seconds=rng.randint(0, 30 * 86400 - 1))
                rows.append(
                    (
                        batch.pk,
                        "stripe",
                        f"txn_{made + i}",
                        i + 2,
                        "charge",
                        "USD",
                        total,
                        fee,
                        total + fee,
                        posted,
                        f"#{order_id}",
                        f"ch_{order_id}",
                        "",
                        "card",
                        "",
                        "",
                        "matched",
                        "payment_ref",
                        "",
                        order_id,
                        False,
                        "",
                    )
                )
            _copy(
                "settlements_settlementline",
                [
                    "batch_id",
                    "provider",
                    "line_key",
                    '"row"',
                    "kind",
                    "currency",
                    "gross",
                    "fee",
                    "net",
                    "posted_at",
                    "order_ref",
                    "payment_ref",
                    "related_ref",
                    "payment_method",
                    "description",
                    "raw",
                    "outcome",
                    "rule",
                    "reason",
                    "order_id",
                    "manual",
                    "note",
                ],
                rows,
            )
            made += per_batch
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE settlements_settlementbatch b SET gross = s.gross, fees = s.fee,"
                " net = s.net, payout_amount = s.net FROM (SELECT batch_id, sum(gross) gross,"
                " sum(fee) fee, sum(net) net FROM settlements_settlementline GROUP BY batch_id) s"
                " WHERE s.batch_id = b.id"
            )
        connection.cursor().execute("ANALYZE")
    print(f"seeded {orders} orders and {made} settlement lines", flush=True)


if __name__ == "__main__":
    import sys

    seed(int(sys.argv[1]), int(sys.argv[2]))
