"""A Hypothesis state machine drives random stock events through the real service and database
and compares every position with a plain model of the rules, step by step. The ledger must
always add up to the position: any position can be rebuilt from its history."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from inventory.models import Position, StockMovement
from inventory.services import EventInput, item_upsert, location_upsert, stock_events_apply
from retailsync.core.errors import BusinessRuleViolation

FIELDS = ("on_hand", "reserved", "in_transit", "damaged", "quality_hold")
_ids = itertools.count()


def model_apply(m: dict[str, int], kind: str, q: int) -> dict[str, int] | None:
    """The rules as a warehouse manager would state them; None means refused."""
    n = dict(m)
    sellable = n["on_hand"] - n["reserved"] - n["damaged"] - n["quality_hold"]
    if kind in ("receipt", "return_receipt", "adjustment"):
        n["on_hand"] += q
    elif kind == "reservation":
        if q > sellable:
            return None
        n["reserved"] += q
    elif kind == "release":
        n["reserved"] -= q
    elif kind == "shipment":
        from_reserved = min(q, n["reserved"])
        if q - from_reserved > sellable:
            return None
        n["on_hand"] -= q
        n["reserved"] -= from_reserved
    elif kind in ("damage", "quality_hold"):
        if q > sellable:
            return None
        n["damaged" if kind == "damage" else "quality_hold"] += q
    elif kind == "quality_release":
        n["quality_hold"] -= q
    elif kind == "write_off":
        n["damaged"] -= q
        n["on_hand"] -= q
    elif kind == "count":
        n["on_hand"] = q
    if min(n.values()) < 0 or n["reserved"] + n["damaged"] + n["quality_hold"] > n["on_hand"]:
        return None
    return n


class StockMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.sku = f"SM-{next(_ids)}"
        item_upsert(sku=self.sku)
        self.model = dict.fromkeys(FIELDS, 0)
        self.clock = datetime(2026, 1, 1, tzinfo=UTC)

    def send(self, kind: str, q: int) -> None:
        self.clock += timedelta(minutes=1)
        expected = model_apply(self.model, kind, q)
        event = EventInput(f"{self.sku}-{next(_ids)}", "sm", kind, self.sku, "SM-WH", q, self.clock)
        try:
            stock_events_apply(events=[event])
        except BusinessRuleViolation:
            assert expected is None, f"{kind} {q} refused, the model applies it: {self.model}"
            return
        assert expected is not None, f"{kind} {q} applied, the model refuses it: {self.model}"
        self.model = expected

    @rule(
        kind=st.sampled_from(
            [
                "receipt",
                "return_receipt",
                "reservation",
                "release",
                "shipment",
                "damage",
                "quality_hold",
                "quality_release",
                "write_off",
            ]
        ),
        q=st.integers(1, 8),
    )
    def event(self, kind: str, q: int) -> None:
        self.send(kind, q)

    @rule(q=st.integers(-8, 8).filter(bool))
    def adjustment(self, q: int) -> None:
        self.send("adjustment", q)

    @rule(q=st.integers(0, 20))
    def count(self, q: int) -> None:
        self.send("count", q)

    @invariant()
    def position_matches_the_model_and_the_ledger(self) -> None:
        p = Position.objects.filter(item__sku=self.sku).first()
        actual = {f: getattr(p, f) for f in FIELDS} if p else dict.fromkeys(FIELDS, 0)
        assert actual == self.model
        ledger = StockMovement.objects.filter(item__sku=self.sku).aggregate(
            **{f: Sum(f) for f in FIELDS}
        )
        assert {f: ledger[f] or 0 for f in FIELDS} == actual


@pytest.mark.django_db
def test_positions_follow_the_rules_of_a_simple_model():
    location_upsert(code="SM-WH", kind="warehouse")
    StockMachine.TestCase.settings = settings(
        max_examples=30,
        stateful_step_count=20,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    StockMachine.TestCase().runTest()
