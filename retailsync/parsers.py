"""The JSON parser every endpoint uses (kept apart from the views: DRF imports it at start-up)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from rest_framework import exceptions
from rest_framework.parsers import JSONParser

from .guards import NUL_MESSAGE, nul_path


class DecimalJSONParser(JSONParser):
    """JSON with numbers as Decimal: an amount sent as a number never passes through float.
    Text with NUL in it is refused (400 naming the field)."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        raw = stream.read()
        try:
            data = json.loads(raw, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise exceptions.ParseError(f"JSON parse error: {exc}") from None
        # PostgreSQL text cannot hold NUL: name where it is rather than fail on insert (500).
        if b"\\u0000" in raw and (path := nul_path(data)) is not None:
            raise exceptions.ParseError({path: NUL_MESSAGE})
        return data
