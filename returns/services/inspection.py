"""Inspection decides the fate of received units where they wait: restock (sellable), damaged,
quality hold (to refurbish), scrap (written off) or missing; stock follows each decision."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from inventory.services import EventInput
from retailsync.core.errors import BusinessRuleViolation

from ..models import Return, ReturnLine, ReturnReceipt
from ..rules import NEXT_STATUS
from .receipt import return_line_for
from .stock import stock_event, stock_follow
from .transitions import Actor, return_lines_locked, return_move, timeline_note

DISPOSITIONS = ("restock", "damaged", "quality_hold", "scrap", "missing")
# The return line's count of each disposition.
_FIELD_OF = {
    "restock": "restocked",
    "damaged": "damaged",
    "quality_hold": "held",
    "scrap": "scrapped",
    "missing": "missing",
}
# How each disposition moves the units off the quality hold they have waited on since receipt;
# a unit kept on hold stays there to be refurbished.
_STEPS: dict[str, tuple[str, ...]] = {
    "restock": ("quality_release",),
    "damaged": ("quality_release", "damage"),
    "quality_hold": (),
    "scrap": ("quality_release", "damage", "write_off"),
    "missing": ("quality_release", "adjustment"),
}


@dataclass(frozen=True, slots=True)
class Disposition:
    restock: int = 0
    damaged: int = 0
    quality_hold: int = 0
    scrap: int = 0
    missing: int = 0
    line_id: int | None = None  # the order line's id, as a return shows it
    sku: str = ""

    @classmethod
    def of(
        cls, counts: Mapping[str, int | None], *, line_id: int | None = None, sku: str = ""
    ) -> Disposition:
        """From counts by disposition name; a name not given counts 0."""
        restock, damaged, hold, scrap, missing = (counts.get(k) or 0 for k in DISPOSITIONS)
        return cls(restock, damaged, hold, scrap, missing, line_id=line_id, sku=sku)

    def counts(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in DISPOSITIONS}


def _and(parts: list[str]) -> str:
    return " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts)


def _inspected_at(
    line: ReturnLine, receipts: list[ReturnReceipt], location: str, n: int, path: str
) -> list[ReturnReceipt]:
    """Where `n` units of the line are inspected: the location given, or the one place its
    units wait. Returns the receipts those units came in, first in first out."""
    waiting: dict[str, int] = {}
    for r in receipts:
        if r.line_id == line.pk and r.waiting:
            waiting[r.location.code] = waiting.get(r.location.code, 0) + r.waiting
    sku = line.order_line.sku
    if not location and len(waiting) > 1:
        places = _and([f"{code} ({k})" for code, k in sorted(waiting.items())])
        raise BusinessRuleViolation(
            f"{sku} waits for inspection at {places}: say which location", field="location"
        )
    where = location or next(iter(waiting), "")
    if waiting.get(where, 0) < n:
        elsewhere = ", ".join(f"{code}: {k}" for code, k in sorted(waiting.items()))
        raise BusinessRuleViolation(
            f"{n} of {sku} to inspect at {where}, but {waiting.get(where, 0)} wait for "
            f"inspection there ({elsewhere or 'none anywhere'})",
            field=f"{path}.quantity",
        )
    taken, out = n, []
    for r in receipts:
        if taken and r.line_id == line.pk and r.location.code == where and r.waiting:
            k = min(taken, r.waiting)
            r.decided += k
            taken -= k
            out.append(r)
    return out


def return_inspect(
    *,
    return_id: int,
    lines: Sequence[Disposition],
    location: str = "",
    actor: Actor = None,
    now: datetime | None = None,
) -> Return:
    """Decide received units' fate where they wait. Without a location, each line's units are
    inspected where they were received; a location is needed only when they wait in more than
    one place. The return is inspected once no received unit waits any more, so no refund
    passes a unit still undecided."""
    now = now or timezone.now()
    with transaction.atomic():
        ret, return_lines = return_lines_locked(return_id, "inspect")
        if not any(sum(d.counts().values()) for d in lines):
            raise BusinessRuleViolation(
                "an inspection must decide at least one unit", field="lines"
            )
        receipts = list(
            ReturnReceipt.objects.filter(line__ret=ret)
            .select_related("location")
            .select_for_update(of=("self",))
            .order_by("pk")
        )
        events: list[EventInput] = []
        decided: list[dict[str, object]] = []
        touched: dict[int, ReturnReceipt] = {}
        for i, d in enumerate(lines):
            counts = d.counts()
            n = sum(counts.values())
            if not n:
                continue
            path = f"lines[{i}]"
            line = return_line_for(ret, return_lines, d.line_id, d.sku, path, lambda x: x.waiting)
            if any(v < 0 for v in counts.values()) or n > line.waiting:
                raise BusinessRuleViolation(
                    f"{n} units decided but {line.waiting} of "
                    f"{line.order_line.sku} are waiting for inspection",
                    field=path,
                )
            came_in = _inspected_at(line, receipts, location, n, path)
            touched.update({r.pk: r for r in came_in})
            where = came_in[0].location.code
            sku, base = line.order_line.sku, f"rma-{ret.pk}-line-{line.pk}-insp-{line.decided}"
            for kind, k in counts.items():
                if not k:
                    continue
                setattr(line, _FIELD_OF[kind], getattr(line, _FIELD_OF[kind]) + k)
                events += [
                    stock_event(
                        ret,
                        f"{base}-{kind}-{step}",
                        step,
                        sku,
                        where,
                        -k if step == "adjustment" else k,
                        now=now,
                    )
                    for step in _STEPS[kind]
                ]
            line.save(update_fields=list(_FIELD_OF.values()))
            decided.append({**counts, "line_id": line.pk, "sku": sku, "location": where})
        ReturnReceipt.objects.bulk_update(touched.values(), ["decided"])
        stock_follow(events, now=now)
        done = not any(line.waiting for line in return_lines)
        if done and NEXT_STATUS[(ret.status, "inspect")] != ret.status:
            return_move(ret, "inspect", actor, now=now, details={"lines": decided})
        else:
            timeline_note(ret, actor, note="inspected", now=now, details={"lines": decided})
    return ret
