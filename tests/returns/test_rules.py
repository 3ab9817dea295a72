"""The state machine as a person meets it: which steps each state of a return allows, written
out by hand from the lifecycle (requested → authorized → received → inspected → refunded →
closed, with rejected and cancelled), against what returns/rules.py answers."""

from __future__ import annotations

import pytest

from returns.models import Return, ReturnLine, ReturnPolicy
from returns.rules import ACTIONS, refusal

# A return of two units, one received and waiting for inspection; its reason is refunded
# without inspection, so a received return may be refunded.
POLICY = ReturnPolicy(no_inspection_reasons=["faulty"])

ALLOWED = {
    (False, "requested"): {"authorize", "reject"},
    (False, "authorized"): {"receive", "reject"},
    (False, "received"): {"receive", "inspect", "refund"},
    (False, "inspected"): {"refund"},
    (False, "refunded"): {"inspect", "close"},
    (False, "closed"): set(),
    (False, "rejected"): set(),
    (False, "cancelled"): set(),
    # Refunded on authorization, provisionally: the goods may still arrive, not yet close.
    (True, "refunded"): {"receive", "inspect"},
}


@pytest.mark.parametrize(("provisional", "status"), list(ALLOWED))
def test_each_state_allows_exactly_the_steps_of_the_lifecycle(provisional, status):
    ret = Return(status=status, refund_provisional=provisional)
    line = ReturnLine(quantity=2, received=1, reason="faulty")

    allowed = {a for a in ACTIONS if not refusal(ret, a, [line], POLICY)}

    assert allowed == ALLOWED[provisional, status]


def test_the_systems_own_refunds_are_not_steps_a_person_can_take():
    ret = Return(status="authorized")
    assert refusal(ret, "refund_on_authorization", [], POLICY) == (
        "'refund_on_authorization' is not a step of a return"
    )
