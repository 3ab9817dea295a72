"""How each figure's records read in its drill-down: a label people know, a link, a date and
the amount that the figure adds up."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def _order_label(order: Any) -> str:
    return str(order.order_number or order.external_id)


def describe(figure: str, r: Any) -> dict[str, Any]:
    if figure == "orders":
        return _row(_order_label(r), f"/orders/{r.pk}/", r.placed_at, r.total, r.currency)
    if figure == "shipped":
        line, order = r.line, r.line.order
        amount = line.total * r.quantity / line.quantity
        return _row(
            f"{_order_label(order)} · {line.sku} × {r.quantity}",
            f"/orders/{order.pk}/",
            r.shipment.shipped_at,
            amount,
            order.currency,
        )
    if figure == "cancelled":
        order = r.order
        amount = r.total * r.quantity_cancelled / r.quantity
        return _row(
            f"{_order_label(order)} · {r.sku} × {r.quantity_cancelled}",
            f"/orders/{order.pk}/",
            order.cancelled_at,
            amount,
            order.currency,
        )
    if figure == "refunded":
        return _row(f"RMA-{r.ret_id}", f"/returns/{r.ret_id}/", r.created_at, r.amount, r.currency)
    if figure == "expected":
        return _row(
            f"{_order_label(r.order)} · {r.kind} by {r.provider or 'provider'}",
            f"/orders/{r.order_id}/",
            r.expected_on,
            r.gross,
            r.currency,
        )
    if figure in ("settled_gross", "fees", "settled_net"):
        amount = {"settled_gross": r.gross, "fees": r.fee, "settled_net": r.net}[figure]
        label = f"{r.provider} {r.line_key} · {r.kind} {r.order_ref or r.payment_ref}".strip()
        return _row(label, f"/settlements/lines/{r.pk}/", r.posted_at, amount, r.currency)
    if figure == "payouts":
        return _row(
            f"{r.get_provider_display()} {r.key}",
            f"/settlements/{r.pk}/",
            r.deposit_date,
            r.payout_amount or Decimal(0),
            r.currency,
        )
    if figure == "deposited":
        return _row(
            f"{r.get_provider_display()} {r.key}",
            f"/settlements/{r.pk}/",
            r.deposited_on,
            r.deposit_line.net,
            r.currency,
        )
    if figure == "posted":
        entry = r.entry
        return _row(
            f"{entry.number or entry.pk} · {r.account.code} {r.description}".strip(),
            f"/journals/{entry.pk}/",
            entry.posting_date,
            r.debit,
            entry.currency,
        )
    return _row(str(r), "", None, getattr(r, "amount", Decimal(0)), getattr(r, "currency", ""))


def _row(label: str, link: str, when: Any, amount: Decimal, currency: str) -> dict[str, Any]:
    return {"label": label, "link": link, "when": when, "amount": amount, "currency": currency}
