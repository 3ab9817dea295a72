"""Reading request bodies: the JSON every endpoint parses, and the size each one accepts.

Kept apart from the views: DRF imports the parser at start-up.

What PostgreSQL cannot store must be refused before anything is written, or it fails the first
insert that meets it (an audit record, a JSON column) after other writes were made: a NUL
character (`\\u0000`: text and jsonb cannot hold it) and a lone UTF-16 surrogate (`"\\ud800"`:
not a character, so not UTF-8). A staff body may also nest no deeper than JSON_MAX_DEPTH: no
input of ours needs more, and a deep enough structure breaks every recursive reader after the
parser (serializers, the JSON encoder, jsonb). Each refusal is a 400 naming the problem and
where it is.

Sizes: a body over its endpoint's limit is a 413 answered before the body is read; the limits
are settings (`RETAILSYNC_*_BODY_MAX`, from the environment), documented in README.md and the
OpenAPI description.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from rest_framework.parsers import JSONParser

from .errors import FieldError, Malformed, TooLarge

# Containers inside containers: {"lines": [{"sku": …}]} is 3 deep.
JSON_MAX_DEPTH = 32
# A channel's payload is its own to shape (Shopify's nests about 6 deep; its extras may nest
# far deeper), but not past what the recursive readers after the parser can follow: Python's
# stack ran out near 460 levels.
CHANNEL_JSON_MAX_DEPTH = 200
# Escapes that may decode to something refused (NUL, or half of a surrogate pair); a body
# without any needs no walk over what it decoded to.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def json_loads(body: bytes, *, max_depth: int | None = JSON_MAX_DEPTH) -> Any:
    """Parse JSON with numbers as Decimal (an amount never passes through float), refusing
    what PostgreSQL cannot store and, when `max_depth` is given, nesting deeper than that.
    A channel's own payload is parsed with `max_depth=None`: it is the channel's to shape, up
    to CHANNEL_JSON_MAX_DEPTH, and its texts are walked only where an escape may hide NUL."""
    try:
        data = json.loads(body, parse_float=Decimal)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise Malformed(f"body is not valid JSON: {exc}") from None
    if max_depth is None and _deeper_than(data, CHANNEL_JSON_MAX_DEPTH):
        raise Malformed(f"JSON nested deeper than {CHANNEL_JSON_MAX_DEPTH} levels")
    if (
        max_depth is not None
        or _SUSPECT_ESCAPE.search(body)
        or json.detect_encoding(body) != "utf-8"  # UTF-16 or 32: the escapes are not ASCII
    ):
        problem = _first_problem(data, "", 0, max_depth)
        if problem is not None:
            raise Malformed([problem])
    return data


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether containers nest deeper than `limit`; a loop, not a recursion, and over the
    containers only (a 500-order batch is thousands of them)."""
    pending = [(value, 1)] if isinstance(value, dict | list) else []
    while pending:
        node, depth = pending.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        pending.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _first_problem(value: Any, path: str, depth: int, max_depth: int | None) -> FieldError | None:
    """The first thing refused in `value` (depth: containers above it), with its path."""
    if isinstance(value, str):
        return _text_problem(value, path)
    if not isinstance(value, dict | list):
        return None
    if max_depth is not None and depth >= max_depth:
        return FieldError(path, f"JSON nested deeper than {max_depth} levels")
    if isinstance(value, dict):
        for key in value:
            # A refused key is named by where it is: the key itself cannot be echoed back.
            found = _text_problem(key, path, in_key=True)
            if found is not None:
                return found
        children = ((f"{path}.{key}" if path else key, child) for key, child in value.items())
    else:
        children = ((f"{path}[{index}]", child) for index, child in enumerate(value))
    for here, child in children:
        if isinstance(child, str | dict | list):
            found = _first_problem(child, here, depth + 1, max_depth)
            if found is not None:
                return found
    return None


def _text_problem(text: str, path: str, *, in_key: bool = False) -> FieldError | None:
    what = "a key" if in_key else "text"
    if "\x00" in text:
        return FieldError(path, f"{what} must not contain NUL characters (\\u0000)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return FieldError(
            path,
            f"{what} must not contain a lone surrogate (\\u{ord(text[exc.start]):04x}): "
            "only a pair of them makes a character",
        )
    return None


class DecimalJSONParser(JSONParser):
    """JSON for staff endpoints: within the staff body limit, and readable as `json_loads`."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        request = (parser_context or {}).get("request")
        if request is not None:
            body_check(request._request, limit=settings.RETAILSYNC_STAFF_BODY_MAX)
        return json_loads(stream.read() if stream is not None else b"")


def body_size(request: HttpRequest) -> int:
    """What the caller says it sends (Django reads no more than Content-Length)."""
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def body_check(request: HttpRequest, *, limit: int) -> None:
    """Refuse (413) a body over `limit` before reading any of it."""
    size = body_size(request)
    if size > limit:
        raise TooLarge(size=size, limit=limit)
