"""What each stock event does to a position, as plain arithmetic: no database, so the rules can
be read in one place and tested against a simple model (tests/inventory/test_rules.py).

An event that would make any quantity negative, or commit more units than are on hand, is
refused, never clamped: the caller learns why, and a person looks at it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


class Refused(ValueError):
    """The event cannot apply to this position as it stands."""


@dataclass(frozen=True, slots=True)
class Quantities:
    on_hand: int = 0
    reserved: int = 0
    in_transit: int = 0
    damaged: int = 0
    quality_hold: int = 0

    @property
    def available(self) -> int:
        return max(self.on_hand - self.reserved - self.damaged - self.quality_hold, 0)

    def __add__(self, other: Quantities) -> Quantities:
        return Quantities(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def __sub__(self, other: Quantities) -> Quantities:
        return Quantities(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))

    def check(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise Refused(f"{f.name} would become {getattr(self, f.name)}")
        committed = self.reserved + self.damaged + self.quality_hold
        if committed > self.on_hand:
            raise Refused(
                f"reserved, damaged and held units ({committed}) would exceed on hand "
                f"({self.on_hand})"
            )


def _sellable(q: Quantities, quantity: int, what: str) -> None:
    if quantity > q.available:
        raise Refused(f"only {q.available} available to {what}, not {quantity}")


def event_delta(event_type: str, q: Quantities, quantity: int) -> Quantities:
    """The change one event makes at the position it names (for a transfer out: the source).

    `count` is not here: a count is a snapshot in time, see `count_delta`.
    """
    match event_type:
        case "receipt" | "return_receipt":
            delta = Quantities(on_hand=quantity)
        case "adjustment":
            delta = Quantities(on_hand=quantity)  # signed
        case "reservation":
            _sellable(q, quantity, "reserve")
            delta = Quantities(reserved=quantity)
        case "release":
            delta = Quantities(reserved=-quantity)
        case "pick":
            # Picked units are still on hand and still promised: the ledger records the step.
            if quantity > q.reserved:
                raise Refused(f"only {q.reserved} reserved to pick, not {quantity}")
            delta = Quantities()
        case "shipment":
            # Shipping takes reserved units first; unreserved ones must be sellable.
            from_reserved = min(quantity, q.reserved)
            _sellable(q, quantity - from_reserved, "ship unreserved")
            delta = Quantities(on_hand=-quantity, reserved=-from_reserved)
        case "transfer_out":
            _sellable(q, quantity, "transfer")
            delta = Quantities(on_hand=-quantity)
        case "transfer_in":
            # Arrivals clear what was in transit toward here; one that overtook its transfer_out
            # simply arrives.
            delta = Quantities(on_hand=quantity, in_transit=-min(quantity, q.in_transit))
        case "damage":
            _sellable(q, quantity, "mark damaged")
            delta = Quantities(damaged=quantity)
        case "quality_hold":
            _sellable(q, quantity, "hold")
            delta = Quantities(quality_hold=quantity)
        case "quality_release":
            delta = Quantities(quality_hold=-quantity)
        case "write_off":
            delta = Quantities(on_hand=-quantity, damaged=-quantity)
        case _:
            raise Refused(f"unknown event type {event_type!r}")
    (q + delta).check()
    return delta


def count_delta(q: Quantities, counted: int, changed_since: int) -> Quantities:
    """A cycle count says `counted` units were on hand at the time it was taken. Changes already
    applied that happened after that moment (`changed_since`, their net on-hand effect) still
    hold, so on-hand becomes counted + changed_since, never just `counted`."""
    if counted < 0:
        raise Refused("a count cannot be negative")
    delta = Quantities(on_hand=counted + changed_since - q.on_hand)
    (q + delta).check()
    return delta
