"""Whatever a caller sends to the ingestion endpoints, the answer is never a 500.

Hypothesis throws arbitrary JSON, mutated real payloads and raw bytes at every source's
endpoint; each answer must be one of the documented codes, in the documented error shape.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retailsync.core.models import Channel
from tests.orders.payloads import canonical_order

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.text(max_size=12)
    | st.sampled_from(["", "0", "-1", "1e309", "NaN", "12.345", "2026-13-45", "USD", "ZZZ"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)


def _assert_documented(response: Any) -> None:
    assert response.status_code in (200, 201, 400, 422), (response.status_code, response.content)
    if response.status_code >= 400:
        errors = response.json()["errors"]
        assert errors and all(set(e) == {"field", "message"} for e in errors)


@pytest.mark.parametrize("source", Channel.Source.values)
@FUZZ
@given(body=json_values)
def test_arbitrary_json_never_breaks_any_source(make_channel, source, body):
    client = _channels(make_channel, source)
    _assert_documented(client.post_order(body))


@FUZZ
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes_are_a_400_not_a_500(make_channel, raw):
    _assert_documented(_channels(make_channel, "canonical").post_order(raw))


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out += _paths(child, (*prefix, index))
    return out


@FUZZ
@given(data=st.data())
def test_a_real_payload_with_one_field_replaced_gets_a_documented_answer(make_channel, data):
    payload = canonical_order(external_id=data.draw(st.text(min_size=1, max_size=10)))
    path = data.draw(st.sampled_from(_paths(payload)[1:]))
    replacement = data.draw(json_values)
    target = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = copy.deepcopy(replacement)
    response = _channels(make_channel, "canonical").post_order(json.dumps(payload).encode())
    _assert_documented(response)


def _channels(make_channel: Any, source: str, _cache: dict[str, Any] = {}) -> Any:  # noqa: B006
    # One channel per source for all examples of a test (the database outlives the examples).
    channel = Channel.objects.filter(code=f"fuzz-{source}").first()
    if channel is None or _cache.get(source) is None or _cache[source].channel.pk != channel.pk:
        _cache[source] = make_channel(source, code=f"fuzz-{source}")
    return _cache[source]
