"""Deciding on a requested return: authorize it (an exchange gets its order now, trusted reasons
their refund), or end it, rejected or cancelled, giving its units back to be returned again."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from orders.lines import order_lines_returned_add
from retailsync.core.errors import BusinessRuleViolation

from ..models import Return
from ..rules import REFUND_ON_AUTHORIZATION, becomes, policy_for
from .exchange import exchange_order_create
from .refund import refund_record
from .transitions import Actor, return_locked, return_move, step_check


def return_authorize(*, return_id: int, actor: Actor = None, now: datetime | None = None) -> Return:
    """Authorize; an exchange gets its replacement order now, and trusted reasons may be
    refunded at once, provisionally until the goods arrive."""
    now = now or timezone.now()
    with transaction.atomic():
        ret = return_locked(return_id)
        step_check(ret, "authorize")
        return_move(ret, "authorize", actor, now=now)
        exchange_order_create(ret, now=now)
        policy = policy_for(ret.order)
        lines = list(ret.lines.all())
        if policy.refund_on_authorization_reasons and all(
            line.reason in policy.refund_on_authorization_reasons for line in lines
        ):
            refund_record(ret, REFUND_ON_AUTHORIZATION, actor, now=now, provisional=True)
    return ret


def return_reject(
    *, return_id: int, note: str, actor: Actor = None, now: datetime | None = None
) -> Return:
    return _end(return_id, "reject", actor, note=note, now=now or timezone.now())


def return_cancel(
    *, return_id: int, note: str, actor: Actor = None, now: datetime | None = None
) -> Return:
    return _end(return_id, "cancel", actor, note=note, now=now or timezone.now())


def _end(return_id: int, action: str, actor: Actor, *, note: str, now: datetime) -> Return:
    """Reject or cancel: the return ends, its quantities may be returned again, and the
    timeline says why."""
    if not note.strip():
        raise BusinessRuleViolation(f"say why the return is {becomes(action)}", field="note")
    with transaction.atomic():
        ret = return_locked(return_id)
        step_check(ret, action)
        return_move(ret, action, actor, now=now, note=note.strip())
        given_back: dict[int, int] = {}
        for line in ret.lines.all():
            given_back[line.order_line_id] = given_back.get(line.order_line_id, 0) - line.quantity
        order_lines_returned_add(quantities=given_back)
    return ret
