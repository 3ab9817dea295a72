"""Which account an amount goes to: the mapping rules, most specific first, never a guess.

A leg no rule maps is an `unmapped_account` exception for a person (one open per combination,
counted while it repeats); its source event is left unposted, and the next run, or the next
event of the same kind, posts it once a rule exists (and resolves the exception).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from retailsync.core.models import Channel, ExceptionItem, LegalEntity
from retailsync.core.services import exception_raise

from ..models import MappingRule

UNMAPPED = "unmapped_account"


@dataclass(frozen=True, slots=True)
class Mapped:
    account_id: int
    dimensions: dict[str, str]


@dataclass(frozen=True, slots=True)
class Combination:
    """What a rule is looked up by."""

    legal_entity: str
    channel: str
    payment_method: str
    kind: str
    jurisdiction: str

    @property
    def key(self) -> str:
        parts = (self.legal_entity, self.channel, self.payment_method, self.kind, self.jurisdiction)
        return f"{UNMAPPED}:" + ":".join(parts)[:180]

    def describe(self) -> str:
        said = [
            f"legal entity {self.legal_entity}",
            f"channel {self.channel or '(none)'}",
            f"payment method {self.payment_method or '(none)'}",
        ]
        if self.jurisdiction:
            said.append(f"jurisdiction {self.jurisdiction}")
        return f"no account is mapped for {self.kind} ({', '.join(said)})"


class Chart:
    """The mapping rules of some legal entities, read once per posting run."""

    def __init__(self, legal_entity_ids: Iterable[int]) -> None:
        self._rules: dict[tuple[int, str], list[MappingRule]] = defaultdict(list)
        rules = MappingRule.objects.filter(
            legal_entity_id__in=set(legal_entity_ids), account__is_active=True
        ).select_related("account")
        for rule in rules:
            self._rules[(rule.legal_entity_id, rule.kind)].append(rule)

    def resolve(
        self,
        *,
        legal_entity_id: int,
        channel_id: int | None,
        payment_method: str,
        kind: str,
        jurisdiction: str,
    ) -> Mapped | None:
        method = payment_method.lower()
        best: tuple[tuple[bool, bool, bool], MappingRule] | None = None
        for rule in self._rules.get((legal_entity_id, kind), ()):
            if rule.channel_id is not None and rule.channel_id != channel_id:
                continue
            if rule.payment_method and rule.payment_method.lower() != method:
                continue
            if rule.jurisdiction and rule.jurisdiction != jurisdiction:
                continue
            score = (
                rule.channel_id is not None,
                bool(rule.payment_method),
                bool(rule.jurisdiction),
            )
            if best is None or score > best[0]:
                best = (score, rule)
        if best is None:
            return None
        rule = best[1]
        return Mapped(rule.account_id, {k: str(v) for k, v in (rule.dimensions or {}).items()})


def unmapped_raise(
    combination: Combination,
    *,
    source: str,
    channel: Channel | None,
    correlation_id: str,
    now: datetime,
) -> None:
    details: dict[str, Any] = {
        "legal_entity": combination.legal_entity,
        "channel": combination.channel,
        "payment_method": combination.payment_method,
        "kind": combination.kind,
        "jurisdiction": combination.jurisdiction,
        "source": source,
    }
    exception_raise(
        kind=UNMAPPED,
        reason=f"Journals: {combination.describe()}; {source} waits unposted until a mapping "
        "rule covers it.",
        details=details,
        object_type="legal_entity",
        object_id=combination.legal_entity,
        object_label=combination.legal_entity,
        channel=channel,
        dedupe_key=combination.key,
        correlation_id=correlation_id,
        now=now,
    )


def unmapped_resolve(combinations: Iterable[Combination], *, now: datetime) -> None:
    """The combinations that map now: their open exceptions, if any, are resolved."""
    keys = {c.key for c in combinations}
    if keys:
        ExceptionItem.objects.filter(
            status=ExceptionItem.Status.OPEN, kind=UNMAPPED, dedupe_key__in=keys
        ).update(
            status=ExceptionItem.Status.RESOLVED,
            resolved_at=now,
            resolution="A mapping rule covers it now; the source was posted.",
        )


def legal_entities_by_code(codes: Iterable[str]) -> dict[str, LegalEntity]:
    return {e.code: e for e in LegalEntity.objects.filter(code__in=set(codes))}
