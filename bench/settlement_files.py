"""The files and orders of bench/settlements.py: Amazon V2 settlement files (written by
bench/settlement_parse.py), a Stripe itemized payout reconciliation report, and the canonical
orders both settle, with what each file must come to once matched.

Orders are numbered; every hundredth (n % 100 == 99) is left out of the orders loaded, so its
lines have no order to match: 1 % of the rows come back `unmatched` (`no_order`), the rest
`matched`. Amazon orders: one line of 29.99 paid through the marketplace, settled by the five
components `settlement_parse.COMPONENTS` writes (principal 29.99, tax 2.40 and its withheld
2.40, commission and FBA fee): sale 29.99 as expected, fees -7.72. Stripe orders: one line of
10.00-99.99 paid by card (`ch_…`), settled by one `charge` row (gross, Stripe's fee of 2.9 % +
0.30, net), rows spread over `payouts` payouts, each closed by its `payout` row.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from bench.settlement_parse import COMPONENTS, amazon_v2_file, amazon_v2_order_id

CENT = Decimal("0.01")
AMAZON_PRICE = COMPONENTS[0][2]  # the principal: what the order charged and expects back
START = datetime(2024, 3, 1, tzinfo=UTC)  # settlement_parse's first posted time
STRIPE_HEADER = (
    "automatic_payout_id,automatic_payout_effective_at,balance_transaction_id,created_utc,"
    "available_on_utc,currency,gross,fee,net,reporting_category,source_id,"
    "customer_facing_amount,customer_facing_currency,charge_id,payment_intent_id,"
    "payment_method_type,card_brand,payment_metadata[order_id]\n"
)


def known(n: int) -> bool:
    """Whether order `n` is loaded (its lines match) or left out (its lines are unmatched)."""
    return n % 100 != 99


def unknown_in(first: int, count: int) -> int:
    return sum(1 for n in range(first, first + count) if not known(n))


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What a generated file holds, and what matching it must leave."""

    path: Path
    provider: str
    rows: int  # lines (detail rows; Amazon's summary row is not a line)
    batches: int
    total: Decimal  # the sum of the lines' nets (every line but Stripe's payout rows)
    matched_rows: int  # lines of known orders, and Stripe's payout rows
    unmatched_rows: int  # lines of orders left out
    order_rows: int  # lines that must link an order
    orders: int  # known orders settled by the file
    size: int  # bytes


def amazon_file(path: Path, rows: int, settlement_id: str, first: int) -> FileFacts:
    """`rows` // 5 orders numbered from `first`, in one settlement."""
    orders = rows // len(COMPONENTS)
    with path.open("wb") as out:
        written = amazon_v2_file(out, orders, settlement_id, first)
    per_order = len(COMPONENTS)
    unknown = unknown_in(first, orders)
    return FileFacts(
        path=path,
        provider="amazon",
        rows=written,
        batches=1,
        total=sum((a for _, _, a in COMPONENTS), Decimal(0)) * orders,
        matched_rows=(orders - unknown) * per_order,
        unmatched_rows=unknown * per_order,
        order_rows=(orders - unknown) * per_order,
        orders=orders - unknown,
        size=path.stat().st_size,
    )


def stripe_amount(m: int) -> tuple[Decimal, Decimal]:
    """Order `m`'s charge and Stripe's fee on it (2.9 % + 0.30, to the cent)."""
    gross = Decimal(1000 + m * 37 % 9000) / 100
    fee = (gross * Decimal("0.029") + Decimal("0.30")).quantize(CENT, ROUND_HALF_UP)
    return gross, fee


def stripe_file(path: Path, rows: int, payouts: int, tag: str) -> FileFacts:
    """`rows` rows: a charge per order (numbered from 0), spread evenly over `payouts` payouts
    (ids `po_<tag><n>`), each ending with its payout row."""
    charges = rows - payouts
    nets = [Decimal(0)] * payouts
    with path.open("w", newline="") as out:
        out.write(STRIPE_HEADER)
        chunk: list[str] = []
        for p in range(payouts):
            payout = f"po_{tag}{p:04d}"
            effective = (START + timedelta(days=16)).strftime("%Y-%m-%d %H:%M:%S")
            for m in range(charges * p // payouts, charges * (p + 1) // payouts):
                gross, fee = stripe_amount(m)
                net = gross - fee
                nets[p] += net
                created = (START + timedelta(seconds=m * 6 + 60)).strftime("%Y-%m-%d %H:%M:%S")
                ch = f"ch_bench{m:09d}"
                chunk.append(
                    f"{payout},{effective},txn_{tag}{m:09d},{created},{effective},usd,{gross},"
                    f"{fee},{net},charge,{ch},{gross},usd,{ch},pi_bench{m:09d},card,visa,"
                    f"{stripe_order_id(m)}\n"
                )
                if len(chunk) == 10_000:
                    out.write("".join(chunk))
                    chunk.clear()
            chunk.append(
                f"{payout},{effective},txn_{tag}p{p:04d},{effective},{effective},usd,"
                f"{-nets[p]},0.00,{-nets[p]},payout,{payout},,,,,,,\n"
            )
        out.write("".join(chunk))
    unknown = unknown_in(0, charges)
    return FileFacts(
        path=path,
        provider="stripe",
        rows=rows,
        batches=payouts,
        total=sum(nets, Decimal(0)),
        matched_rows=rows - unknown,
        unmatched_rows=unknown,
        order_rows=charges - unknown,
        orders=charges - unknown,
        size=path.stat().st_size,
    )


def stripe_order_id(m: int) -> str:
    return f"web-{m:09d}"


def _payload(external_id: str, n: int, gross: Decimal, gateway: str, ref: str) -> dict:
    placed = START + timedelta(seconds=n * 6)
    return {
        "external_id": external_id,
        "currency": "USD",
        "placed_at": placed.isoformat().replace("+00:00", "Z"),
        "fulfilment_location": "WH1",
        "lines": [{"sku": f"CAT-{n % 10_000:05d}", "quantity": 1, "unit_price": f"{gross}"}],
        "payments": [{"gateway": gateway, "reference": ref, "amount": f"{gross}"}],
        "total": f"{gross}",
    }


def amazon_order_bodies(count: int, per_batch: int = 500) -> Iterator[tuple[int, bytes]]:
    """Batch bodies (`{"orders": [...]}`) of the known Amazon orders among 0..count-1, with
    how many orders each holds."""
    yield from _bodies(
        (
            _payload(amazon_v2_order_id(n), n, AMAZON_PRICE, "amazon", "")
            for n in range(count)
            if known(n)
        ),
        per_batch,
    )


def stripe_order_bodies(charges: int, per_batch: int = 500) -> Iterator[tuple[int, bytes]]:
    def payload(m: int) -> dict:
        gross, _ = stripe_amount(m)
        return _payload(stripe_order_id(m), m, gross, "stripe", f"ch_bench{m:09d}")

    yield from _bodies((payload(m) for m in range(charges) if known(m)), per_batch)


def _bodies(payloads: Iterator[dict], per_batch: int) -> Iterator[tuple[int, bytes]]:
    batch: list[dict] = []
    for payload in payloads:
        batch.append(payload)
        if len(batch) == per_batch:
            yield len(batch), json.dumps({"orders": batch}).encode()
            batch = []
    if batch:
        yield len(batch), json.dumps({"orders": batch}).encode()
