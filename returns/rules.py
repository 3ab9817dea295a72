"""Which transitions a return's state allows, and who may make them.

One answer for three readers: the services refuse every other transition with 409, the API
grants each endpoint to its roles, and a page offers as buttons only what would be accepted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orders.models import Order
from retailsync.roles import has_role

from .models import Return, ReturnLine, ReturnPolicy

S = Return.Status
ACTIONS = ("authorize", "receive", "inspect", "refund", "close", "reject", "cancel")
# Finance approves refunds and closes; operations receive and inspect the goods; either may
# authorize, reject or cancel.
ROLES: dict[str, tuple[str, ...]] = {
    "receive": ("operations",),
    "inspect": ("operations",),
    "refund": ("finance",),
    "close": ("finance",),
}
STAFF = ("operations", "finance")
_BECOMES = {
    "authorize": S.AUTHORIZED,
    "receive": S.RECEIVED,
    "inspect": S.INSPECTED,
    "refund": S.REFUNDED,
    "close": S.CLOSED,
    "reject": S.REJECTED,
    "cancel": S.CANCELLED,
}


def roles_for(action: str) -> tuple[str, ...]:
    return ROLES.get(action, STAFF)


def policy_for(order: Order) -> ReturnPolicy:
    """The channel's policy, or the defaults: 30 days, inspect before refund, no fee, shipping
    refunded only when the whole order comes back."""
    return ReturnPolicy.objects.filter(channel_id=order.channel_id).first() or ReturnPolicy(
        channel_id=order.channel_id
    )


def needs_inspection(policy: ReturnPolicy, reason: str) -> bool:
    if reason in policy.no_inspection_reasons:
        return False
    return not policy.inspect_reasons or reason in policy.inspect_reasons


def refusal(
    ret: Return, action: str, lines: Sequence[ReturnLine], policy: ReturnPolicy | None = None
) -> str:
    """Why `action` is not allowed now, or "" when it is."""
    status = ret.status
    allowed: tuple[str, ...] = ()
    match action:
        case "authorize":
            allowed = (S.REQUESTED,)
        case "reject":
            allowed = (S.REQUESTED, S.AUTHORIZED)
        case "cancel":
            if any(line.received for line in lines):
                return "goods of this return have arrived; it cannot be cancelled"
            allowed = (S.REQUESTED, S.AUTHORIZED)
        case "receive":
            allowed = (S.AUTHORIZED, S.RECEIVED)
            if ret.refund_provisional:
                allowed += (S.REFUNDED,)
            if status in allowed and all(line.received >= line.quantity for line in lines):
                return "every unit of this return has been received"
        case "inspect":
            allowed = (S.RECEIVED, S.REFUNDED)
            if status in allowed and not any(line.waiting for line in lines):
                return "no unit of this return waits for inspection"
        case "refund":
            policy = policy or policy_for(ret.order)
            if any(needs_inspection(policy, line.reason) for line in lines):
                if status == S.RECEIVED:
                    return "a received return cannot be refunded: it must be inspected first"
                allowed = (S.INSPECTED,)
            else:
                allowed = (S.RECEIVED, S.INSPECTED)
        case "close":
            if status == S.REFUNDED and ret.refund_provisional:
                return "the refund is provisional until the goods are received"
            allowed = (S.REFUNDED,)
        case _:
            return f"{action!r} is not a step of a return"
    return "" if status in allowed else f"a {status} return cannot be {_BECOMES[action]}"


def actions_offered(ret: Return, user: Any, lines: Sequence[ReturnLine]) -> list[str]:
    """The transitions this person may make on this return now, in lifecycle order."""
    policy = policy_for(ret.order)
    return [
        action
        for action in ACTIONS
        if has_role(user, *roles_for(action)) and not refusal(ret, action, lines, policy)
    ]
