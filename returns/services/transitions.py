"""How a return moves: the row locked, the step checked against the state machine (the table
in returns/rules.py), and the timeline written with who, when and the correlation id."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from django.contrib.auth.models import User

from retailsync.core.correlation import ensure_correlation_id
from retailsync.core.errors import Conflict, NotFound

from ..models import Return, ReturnLine, ReturnTransition
from ..rules import NEXT_STATUS, not_allowed, refusal

# Who makes a change: a person, or None for the system (a channel's refund, the demo).
Actor = User | None


def timeline_record(
    ret: Return,
    to: str,
    actor: Actor,
    *,
    now: datetime,
    note: str = "",
    details: Mapping[str, object] | None = None,
    from_status: str | None = None,
) -> None:
    """One entry of the return's timeline, from its status (or `from_status`) to `to`."""
    ReturnTransition.objects.create(
        ret=ret,
        from_status=ret.status if from_status is None else from_status,
        to_status=to,
        actor=actor,
        actor_name=actor.get_username() if actor else "system",
        note=note,
        details=dict(details or {}),
        at=now,
        correlation_id=ensure_correlation_id(),
    )


def timeline_note(
    ret: Return,
    actor: Actor,
    *,
    note: str,
    now: datetime,
    details: Mapping[str, object] | None = None,
) -> None:
    """A step that leaves the state as it is (a parcel of a refunded return, an inspection
    while units still wait, the channel's restock): the timeline says it happened."""
    timeline_record(ret, ret.status, actor, note=note, details=details, now=now)


def return_locked(return_id: int) -> Return:
    """The return, locked for this transaction's transition (404 when there is none)."""
    ret = (
        Return.objects.select_for_update()
        .select_related("order", "channel")
        .filter(pk=return_id)
        .first()
    )
    if ret is None:
        raise NotFound(f"return {return_id} does not exist")
    return ret


def return_lines_locked(return_id: int, action: str) -> tuple[Return, list[ReturnLine]]:
    """The return and its lines (with their order lines), locked, once a person may `action`
    it now (409 otherwise)."""
    ret = return_locked(return_id)
    lines = list(ret.lines.select_related("order_line").select_for_update().order_by("pk"))
    step_check(ret, action, lines)
    return ret, lines


def step_check(ret: Return, action: str, lines: Sequence[ReturnLine] | None = None) -> None:
    """409 unless a person may `action` the return now (returns/rules.py says why not)."""
    why = refusal(ret, action, list(ret.lines.all()) if lines is None else lines)
    if why:
        raise Conflict(why)


def return_move(
    ret: Return,
    action: str,
    actor: Actor,
    *,
    now: datetime,
    note: str = "",
    details: Mapping[str, object] | None = None,
) -> None:
    """Move the return where the table sends it on `action`, and say so on the timeline. A
    pair the table does not hold is refused whoever asks, the system included."""
    to = NEXT_STATUS.get((ret.status, action))
    if to is None:
        raise Conflict(not_allowed(ret.status, action))
    timeline_record(ret, to, actor, note=note, details=details, now=now)
    ret.status = to
    ret.updated_at = now
    ret.save(update_fields=["status", "updated_at"])
