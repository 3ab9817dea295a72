"""Which transitions a return's state allows, and who may make them.

One answer for three readers: the services refuse every other transition with 409, the API
grants each endpoint to its roles, and a page offers as buttons only what would be accepted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.contrib.auth.models import AnonymousUser, User

from orders.models import Order
from retailsync.core.roles import has_role

from .models import Return, ReturnLine, ReturnPolicy

S = Return.Status
ACTIONS = ("authorize", "receive", "inspect", "refund", "close", "reject", "cancel")
OPEN_STATUSES = (S.REQUESTED, S.AUTHORIZED, S.RECEIVED, S.INSPECTED, S.REFUNDED)
# The system's own refunds, never offered to a person: trusted reasons refunded as soon as the
# return is authorized (provisionally, until the goods arrive), and a refund the channel made.
REFUND_ON_AUTHORIZATION = "refund_on_authorization"
REFUND_BY_CHANNEL = "refund_by_channel"

# The state machine, whole: (from status, action) → to status. A pair not here is refused (409);
# `refusal` adds the conditions that depend on the lines and the refund. An action's first row
# names what it makes of a return ("a requested return cannot be received").
NEXT_STATUS: Mapping[tuple[str, str], str] = {
    (S.REQUESTED, "authorize"): S.AUTHORIZED,
    (S.AUTHORIZED, "receive"): S.RECEIVED,
    (S.RECEIVED, "receive"): S.RECEIVED,  # another parcel
    (S.REFUNDED, "receive"): S.REFUNDED,  # the goods of a provisional refund
    (S.RECEIVED, "inspect"): S.INSPECTED,  # once no received unit waits
    (S.REFUNDED, "inspect"): S.REFUNDED,
    (S.RECEIVED, "refund"): S.REFUNDED,  # when no reason needs inspection
    (S.INSPECTED, "refund"): S.REFUNDED,
    (S.REFUNDED, "close"): S.CLOSED,
    (S.REQUESTED, "reject"): S.REJECTED,
    (S.AUTHORIZED, "reject"): S.REJECTED,
    (S.REQUESTED, "cancel"): S.CANCELLED,
    (S.AUTHORIZED, "cancel"): S.CANCELLED,
    (S.AUTHORIZED, REFUND_ON_AUTHORIZATION): S.REFUNDED,
    **{
        (s, REFUND_BY_CHANNEL): S.REFUNDED
        for s in (S.REQUESTED, S.AUTHORIZED, S.RECEIVED, S.INSPECTED)
    },
}

# Finance approves refunds and closes; operations receive and inspect the goods; either may
# authorize, reject or cancel.
ROLES: dict[str, tuple[str, ...]] = {
    "receive": ("operations",),
    "inspect": ("operations",),
    "refund": ("finance",),
    "close": ("finance",),
}
STAFF = ("operations", "finance")


def roles_for(action: str) -> tuple[str, ...]:
    return ROLES.get(action, STAFF)


def actor_of(user: User | AnonymousUser) -> User | None:
    """Who the timeline names for a change a request makes: the person, or the system when no
    one is logged in."""
    return None if isinstance(user, AnonymousUser) else user


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


def becomes(action: str) -> str:
    """What `action` makes of a return, as its refusals and requests for a reason say it."""
    return next(to for (_, a), to in NEXT_STATUS.items() if a == action)


def not_allowed(status: str, action: str) -> str:
    """The refusal of a pair the table does not hold."""
    return f"a {status} return cannot be {becomes(action)}"


def refusal(
    ret: Return, action: str, lines: Sequence[ReturnLine], policy: ReturnPolicy | None = None
) -> str:
    """Why a person may not `action` the return now, or "" when they may."""
    if action not in ACTIONS:
        return f"{action!r} is not a step of a return"
    status = ret.status
    if action == "cancel" and any(line.received for line in lines):
        return "goods of this return have arrived; it cannot be cancelled"
    if action == "close" and status == S.REFUNDED and ret.refund_provisional:
        return "the refund is provisional until the goods are received"
    if (
        action == "refund"
        and status == S.RECEIVED
        and any(needs_inspection(policy or policy_for(ret.order), line.reason) for line in lines)
    ):
        return "a received return cannot be refunded: it must be inspected first"
    provisional_goods = action == "receive" and status == S.REFUNDED
    if (status, action) not in NEXT_STATUS or (provisional_goods and not ret.refund_provisional):
        return not_allowed(status, action)
    if action == "receive" and all(line.received >= line.quantity for line in lines):
        return "every unit of this return has been received"
    if action == "inspect" and not any(line.waiting for line in lines):
        return "no unit of this return waits for inspection"
    return ""


def actions_offered(
    ret: Return, user: User | AnonymousUser, lines: Sequence[ReturnLine]
) -> list[str]:
    """The transitions this person may make on this return now, in lifecycle order."""
    policy = policy_for(ret.order)
    return [
        action
        for action in ACTIONS
        if has_role(user, *roles_for(action)) and not refusal(ret, action, lines, policy)
    ]
