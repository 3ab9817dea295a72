"""The demo's month of payouts: one settlement file per provider, written in that provider's
format from the demo's own orders, imported as `manage.py import_settlement` does
(`upload_create`, then `upload_process`), and then the bank statement with most of the deposits.

Most paid orders are in their provider's payout (all but each channel's latest two, which the
next payout would carry), at the fee the demo's fee schedule says. A few things are wrong on purpose,
for a person to look at:
- Stripe (webshop): one fee above the schedule (fee_variance), and a charge for an order we do
  not have (no_order).
- Amazon (amazon-us): a refund Amazon gave that no return of ours explains (amount_mismatch).
- PayPal (woo-uk): a chargeback to answer; and its withdrawal never reaches the bank, so the
  payout waits (pending, missing once `settlements_age` runs).
- Adyen (magento-eu): a payment captured short (amount_mismatch); its payout is found in the
  bank by amount and date alone, the others by the payout id in the remittance text.
- The wholesale channel's payments provider (a generic CSV read through the column mapping the
  demo configures): a payment for an invoice we never issued (no_order).

Idempotent: the files are written from the orders alone, so a second run writes the same bytes,
and a file already imported for its provider (the same SHA-256) is not uploaded again.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Max, Q

from orders.models import Order
from retailsync.core.models import Channel
from retailsync.core.money import allocate
from returns.models import RefundPayment
from settlements.loading import upload_create, upload_process
from settlements.models import (
    FeeSchedule,
    ProviderSettings,
    SettlementBatch,
    SettlementLine,
    Upload,
)

from .demo_orders import cents
from .demo_settlements import (
    GENERIC_DATES,
    GENERIC_MAPPING,
    ZERO,
    Item,
    Reversal,
    Sale,
    adyen_report,
    amazon_report,
    generic_csv,
    stripe_report,
    token,
)
from .demo_statements import Entry, Statement, camt053, paypal_stl

# The demo's fee schedules: provider → (percent, fixed). For any currency: each provider here
# pays out one channel in one currency.
FEES = {
    "stripe": (Decimal("2.9"), Decimal("0.30")),
    "amazon": (Decimal("15"), ZERO),
    "paypal": (Decimal("2.9"), Decimal("0.30")),
    "adyen": (Decimal("1.4"), Decimal("0.11")),
}
# Whose payments each provider pays out.
CHANNELS = {
    "stripe": "webshop",
    "amazon": "amazon-us",
    "paypal": "woo-uk",
    "adyen": "magento-eu",
    "generic": "wholesale",
}
BANK = "DEMOBANK"
# Currency → the account the payouts go to, and its balance before them.
ACCOUNTS = {
    "USD": ("0004567890", Decimal("25000.00")),
    "EUR": ("DE89370400440532013000", Decimal("8000.00")),
}


@dataclass(frozen=True)
class File:
    name: str
    provider: str
    data: bytes
    deposit: Entry | None  # the payout as the bank credits it; None: it never arrives
    currency: str = "USD"


def fee_schedules_seed() -> None:
    """Before the orders: their expected fees are worked out from these when they arrive."""
    for provider, (percent, fixed) in FEES.items():
        FeeSchedule.objects.get_or_create(
            provider=provider,
            payment_method="",
            category="",
            currency="",
            defaults={"percent": percent, "fixed": fixed},
        )


def _provider_settings_seed() -> None:
    for provider, code in CHANNELS.items():
        defaults: dict[str, Any] = {"channel": Channel.objects.filter(code=code).first()}
        if provider == "generic":
            defaults |= {"column_mapping": GENERIC_MAPPING, "date_format": GENERIC_DATES}
        ProviderSettings.objects.get_or_create(provider=provider, defaults=defaults)


def _orders(code: str) -> list[Order]:
    """The channel's paid orders but its latest two (one when it has few), oldest first."""
    orders = list(
        Order.objects.filter(channel__code=code, payment_state=Order.PaymentState.PAID)
        .exclude(status=Order.Status.CANCELLED)
        .prefetch_related("payments", "lines", "shipping_lines")
        .order_by("placed_at", "pk")
    )
    return orders[: max(1, len(orders) - (2 if len(orders) > 5 else 1))] if orders else []


def _fee(provider: str, gross: Decimal) -> Decimal:
    percent, fixed = FEES[provider]
    return cents(gross * percent / 100 + fixed)


def _sale(provider: str, order: Order, order_ref: str, *, prefix: str, size: int) -> Sale:
    """The order's one payment (the demo's orders are paid whole), under its own reference or,
    from a channel whose orders carry none, an id in the provider's style."""
    payment = next(iter(order.payments.all()), None)
    reference = payment.reference if payment else ""
    method = (payment.method if payment and provider == "adyen" else "") or "visa"
    fee = _fee(provider, order.total) if provider in FEES else ZERO
    return Sale(
        order_ref=order_ref,
        payment_ref=reference or token(prefix, f"{provider} {order.external_id}", size),
        gross=order.total,
        fee=fee,
        at=order.placed_at,
        method=method.lower(),
    )


def _refunds(orders: Sequence[Order], sales: Sequence[Sale], prefix: str) -> list[Reversal]:
    """Refunds of returns paid back to the card or wallet the orders were paid with."""
    by_order = {o.pk: s for o, s in zip(orders, sales, strict=True)}
    return [
        Reversal(
            order_ref=by_order[r.ret.order_id].order_ref,
            payment_ref=by_order[r.ret.order_id].payment_ref,
            ref=r.psp_refund_id or token(prefix, f"refund {r.pk}"),
            amount=r.amount,
            at=r.created_at,
        )
        for r in RefundPayment.objects.filter(ret__order__in=list(by_order), method="original")
        .select_related("ret")
        .order_by("pk")
    ]


def _payout_day(code: str, times: Sequence[datetime]) -> date:
    """Two days after the last payment, but not after the channel's latest order."""
    latest = Order.objects.filter(channel__code=code).aggregate(at=Max("placed_at"))["at"]
    end = max(times).date()
    return max(end, min(end + timedelta(days=2), latest.date() if latest else end))


def _odd(sales: Sequence[Sale]) -> int | None:
    """The sale that goes wrong on purpose, when there is one to spare."""
    return len(sales) // 2 if len(sales) >= 2 else None


def _next_number(code: str, prefix: str) -> str:
    """A number in the channel's style that no order of ours has."""
    numbers = Order.objects.filter(channel__code=code).values_list("order_number", flat=True)
    digits = [int(n.removeprefix(prefix)) for n in numbers if n.removeprefix(prefix).isdigit()]
    return f"{prefix}{max(digits, default=1000) + 1}"


def _stripe(orders: list[Order]) -> File:
    sales = [_sale("stripe", o, o.order_number, prefix="ch_3", size=24) for o in orders]
    refunds = _refunds(orders, sales, "re_3")
    if (odd := _odd(sales)) is not None:  # a card from abroad: more than the schedule says
        sales[odd] = replace(sales[odd], fee=sales[odd].fee + Decimal("0.45"))
    last = max([s.at for s in sales] + [r.at for r in refunds]) + timedelta(hours=2)
    gross = Decimal("64.90")
    unknown = _next_number("webshop", "#")
    sales.append(Sale(unknown, token("ch_3", unknown), gross, _fee("stripe", gross), last))
    radar = [
        (f"Radar ({last:%Y-%m-%d}): Radar for Fraud Teams", len(sales) * Decimal("0.05"), last)
    ]
    paid_on = _payout_day("webshop", [last])
    payout = token("po_1", f"webshop {paid_on}")
    data, total = stripe_report(payout, "USD", sales, refunds, radar, paid_on)
    deposit = Entry(total, paid_on, f"STRIPE TRANSFER {payout}")
    return File(f"payout_reconciliation_itemized_{paid_on}.csv", "stripe", data, deposit)


def _items(order: Order, commission: Decimal) -> tuple[Item, ...]:
    lines = sorted(order.lines.all(), key=lambda line: line.position)
    shipping = list(order.shipping_lines.all())
    even = [Decimal(1)] * len(lines)
    ship = allocate(sum((s.amount - s.discount for s in shipping), ZERO), even, order.currency)
    ship_tax = allocate(sum((s.tax for s in shipping), ZERO), even, order.currency)
    nets = [
        line.unit_price * line.quantity - line.discount + s
        for line, s in zip(lines, ship, strict=True)
    ]
    fees = allocate(commission, nets, order.currency)
    return tuple(
        Item(
            line.external_id,
            line.sku,
            line.quantity,
            cents(line.unit_price * line.quantity),
            line.tax,
            line.discount,
            ship[i],
            ship_tax[i],
            fees[i],
        )
        for i, line in enumerate(lines)
    )


def _amazon(orders: list[Order]) -> File:
    sales = []
    for order in orders:
        sale = _sale("amazon", order, order.external_id, prefix="", size=0)
        gross = order.total - order.tax  # Amazon collects the tax itself and pays out without it
        fee = _fee("amazon", gross)
        sales.append(replace(sale, gross=gross, fee=fee, items=_items(order, fee)))
    refunds = []
    if (odd := _odd(sales)) is not None:  # a refund Amazon gave: one unit, no return of ours
        item = sales[odd].items[0]
        unit = cents(item.principal / item.quantity)
        ref = token("amzn1.adj.", sales[odd].order_ref, 12)
        at = sales[odd].at + timedelta(days=3)
        refunds.append(Reversal(sales[odd].order_ref, "", ref, unit, at, item=item))
    last = max([s.at for s in sales] + [r.at for r in refunds]) + timedelta(hours=1)
    paid_on = _payout_day("amazon-us", [last])
    settlement = f"{paid_on:%Y%m%d}001"
    subscription = [("Subscription Fee", Decimal("39.99"), last)]
    data, total = amazon_report(settlement, "USD", sales, refunds, subscription, paid_on)
    deposit = Entry(total, paid_on, f"AMAZON.COM SERVICES LLC SETTLEMENT {settlement}")
    return File(f"{settlement}.txt", "amazon", data, deposit)


def _paypal(orders: list[Order]) -> File:
    sales = [_sale("paypal", o, o.order_number, prefix="", size=17) for o in orders]
    refunds = _refunds(orders, sales, "")
    paid_on = _payout_day("woo-uk", [s.at for s in sales] + [r.at for r in refunds])
    withdrawn = datetime.combine(paid_on, time(6), UTC)
    chargebacks = []
    if (odd := _odd(sales)) is not None:  # the buyer's card issuer took the money back
        s = sales[odd]
        at = min(s.at + timedelta(days=6), withdrawn - timedelta(hours=1))
        ref = token("", f"chargeback {s.payment_ref}", 17)
        chargebacks.append(Reversal(s.order_ref, s.payment_ref, ref, s.gross, at, Decimal("14")))
    data, _ = paypal_stl("RSDEMOUKGB01", "GBP", sales, refunds, chargebacks, withdrawn)
    return File(f"STL-{paid_on:%Y%m%d}.01.008.CSV", "paypal", data, None, "GBP")


def _adyen(orders: list[Order]) -> File:
    sales = [_sale("adyen", o, o.order_number, prefix="88", size=14) for o in orders]
    refunds = _refunds(orders, sales, "")
    if (odd := _odd(sales)) is not None:  # captured 10.00 short of the order
        gross = sales[odd].gross - 10
        sales[odd] = replace(sales[odd], gross=gross, fee=_fee("adyen", gross))
    paid_on = _payout_day("magento-eu", [s.at for s in sales] + [r.at for r in refunds])
    batch = (paid_on - date(2020, 1, 1)).days // 7
    paid_at = datetime.combine(paid_on, time(0, 10), UTC)
    data, total = adyen_report("RetailsyncEU", batch, "EUR", sales, refunds, paid_at)
    deposit = Entry(total, paid_on, "ADYEN N.V. PAYOUT")  # no batch id: found by amount
    return File(f"settlement_detail_report_batch_{batch}.csv", "adyen", data, deposit, "EUR")


def _generic(orders: list[Order]) -> File:
    sales = [_sale("generic", o, o.order_number, prefix="INV-", size=8) for o in orders]
    refunds = _refunds(orders, sales, "CN-")
    last = max([s.at for s in sales] + [r.at for r in refunds]) + timedelta(hours=1)
    unknown = _next_number("wholesale", "WS-")
    invoice = unknown.replace("WS-", "INV-")
    sales.append(Sale(unknown, invoice, Decimal("1250.00"), ZERO, last))
    paid_on = _payout_day("wholesale", [last])
    remittance = token("RM", f"wholesale {paid_on}", 10)
    fees = [("Monthly service fee", Decimal("25.00"), last)]
    paid_at = datetime.combine(paid_on, time(1), UTC)
    data, total = generic_csv(remittance, "USD", sales, refunds, fees, paid_at)
    deposit = Entry(total, paid_on, f"B2B PAYMENTS INC REMITTANCE {remittance}")
    return File(f"remittance_{paid_on}.csv", "generic", data, deposit)


BUILD = {"stripe": _stripe, "amazon": _amazon, "paypal": _paypal, "adyen": _adyen}


def _files() -> list[File]:
    files = []
    for provider, code in CHANNELS.items():
        orders = _orders(code)
        if orders:
            files.append(BUILD.get(provider, _generic)(orders))
    deposits: dict[str, list[Entry]] = {}
    for f in files:
        if f.deposit is not None:
            deposits.setdefault(f.currency, []).append(f.deposit)
    if not deposits:
        return files
    if "USD" in deposits:  # what else a month brings: the payroll going out
        day = min(e.on for e in deposits["USD"])
        deposits["USD"].append(Entry(Decimal("-4250.00"), day, "ACH DEBIT GUSTO PAYROLL"))
    statements = [
        Statement(ACCOUNTS[c][0], c, ACCOUNTS[c][1], tuple(entries))
        for c, entries in deposits.items()
    ]
    end = max(e.on for s in statements for e in s.entries)
    files.append(File(f"camt053_{end:%Y%m%d}.xml", "camt053", camt053(BANK, statements), None))
    return files


def settlements_seed(*, now: datetime) -> dict[str, int]:
    """Import the demo's settlement files and bank statement; what this run added."""
    _provider_settings_seed()
    report = {"files": 0, "refused": 0}
    batches: list[int] = []
    for f in _files():
        digest = hashlib.sha256(f.data).hexdigest()
        done = Upload.objects.filter(provider=f.provider, sha256=digest, status=Upload.Status.DONE)
        if done.exists():
            continue
        channel = Channel.objects.filter(code=CHANNELS.get(f.provider, "")).first()
        upload = upload_create(
            stream=io.BytesIO(f.data),
            name=f.name,
            provider=f.provider,
            channel=channel,
            user=None,
            now=now,
        )
        upload = upload_process(upload.pk, now=now)
        report["files"] += 1
        report["refused"] += int(upload.status == Upload.Status.FAILED)
        batches += upload.batch_ids
    payouts = SettlementBatch.objects.filter(pk__in=batches, is_statement=False)
    lines = SettlementLine.objects.filter(batch__in=payouts)
    report |= {
        "payouts": payouts.count(),
        "lines": lines.count(),
        "matched": lines.filter(outcome__in=["matched", "variance"], reason="").count(),
        "exceptions": lines.filter(~Q(reason="")).count(),
        "deposited": payouts.filter(deposit_status=SettlementBatch.DepositStatus.MATCHED).count(),
    }
    return report
