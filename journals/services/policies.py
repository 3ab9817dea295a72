"""How a legal entity, or one of its channels, wants its journals summarized."""

from __future__ import annotations

from ..models import PostingPolicy


class Policies:
    """The posting policies of some legal entities: a channel's own, else its legal entity's,
    else the default (by channel, payment method and day)."""

    def __init__(self, legal_entity_ids: set[int]) -> None:
        self._by: dict[tuple[int, int | None], PostingPolicy] = {
            (p.legal_entity_id, p.channel_id): p
            for p in PostingPolicy.objects.filter(legal_entity_id__in=legal_entity_ids)
        }

    def of(self, legal_entity_id: int, channel_id: int | None) -> PostingPolicy:
        return (
            self._by.get((legal_entity_id, channel_id))
            or self._by.get((legal_entity_id, None))
            or PostingPolicy(legal_entity_id=legal_entity_id)
        )
