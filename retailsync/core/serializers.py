"""Input serializers that refuse what they do not know.

A field the endpoint does not know is refused with 400 naming it (API.md), the way Stripe refuses
an unknown parameter: a typo such as `quantiy` must not pass silently as "no quantity". Only a
channel's own order or refund payload is kept whole; those endpoints do not use these classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers


class StrictSerializer(serializers.Serializer[Any]):
    """Every input serializer's base: unknown keys are a validation error each, by name."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            known = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(str(key) for key in data if key not in known)
            if unknown:
                raise serializers.ValidationError(
                    {key: ["Unknown field: this endpoint does not take it."] for key in unknown}
                )
        return super().to_internal_value(data)
