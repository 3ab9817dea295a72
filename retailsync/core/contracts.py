"""Typed event payloads: the one place an event's payload turns into its dataclass and back.

The app that publishes an event defines its payload as a frozen dataclass and registers it
under the event's name (`@contract("order.accepted")`, in the app's `events.py`). Publishers
build the dataclass and `contract_event` makes the outbox row's `NewEvent`; subscribers get
`event_payload(event, OrderAccepted)`, checked by mypy. The wire format is the outbox's JSON as
it always was (the same keys; `Decimal` as a string, datetimes in ISO form, as Django's JSON
encoder writes them), so rows written before, and payloads a SQL statement builds, decode alike.

Decoding converts by the dataclass's annotations: `Decimal` from a string or number (never
through a float), `datetime` from ISO text, nested dataclasses, `tuple[X, ...]`, `X | None`;
`dict[str, Any]` and `Any` pass through as they are. A key the dataclass does not know is
ignored (a publisher may add keys before its readers know them); a missing one is an error
unless the field has a default.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar, Union

from django.core.serializers.json import DjangoJSONEncoder
from django.utils.dateparse import parse_date, parse_datetime

from .events import NewEvent, lane_of, subscribe, subscribe_many
from .models import DomainEvent

T = TypeVar("T")

_contracts: dict[str, type[Any]] = {}
_json = DjangoJSONEncoder()


class ContractError(ValueError):
    """A payload that does not fit its event's dataclass."""


def contract(name: str) -> Callable[[type[T]], type[T]]:
    """Register a frozen dataclass as the payload of the event `name`."""

    def register(cls: type[T]) -> type[T]:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls.__name__} must be a dataclass")
        if _contracts.get(name, cls) is not cls:
            raise TypeError(f"{name} has a contract already: {_contracts[name].__name__}")
        _contracts[name] = cls
        cls.EVENT = name  # type: ignore[attr-defined]
        return cls

    return register


def contract_of(name: str) -> type[Any] | None:
    return _contracts.get(name)


def payload_encode(payload: Any) -> dict[str, Any]:
    """A payload dataclass as the outbox's JSON object."""
    if not dataclasses.is_dataclass(payload) or isinstance(payload, type):
        raise TypeError(f"not a payload dataclass: {payload!r}")
    encoded = _encode(payload)
    assert isinstance(encoded, dict)
    return encoded


# Every publish encodes its payload (on the path of each order ingested): the common types are
# told apart by their exact type first, and a dataclass's field names are looked up once.
_AS_IS = frozenset({str, int, bool, float, type(None)})
_field_names: dict[type[Any], tuple[str, ...] | None] = {}


def _fields_of(kind: type[Any]) -> tuple[str, ...] | None:
    """A dataclass's field names, or None for any other type."""
    try:
        return _field_names[kind]
    except KeyError:
        names = (
            tuple(f.name for f in dataclasses.fields(kind))
            if dataclasses.is_dataclass(kind)
            else None
        )
        _field_names[kind] = names
        return names


def _encode(value: Any) -> Any:
    kind = type(value)
    if kind in _AS_IS:
        return value
    if kind is Decimal:
        return str(value)
    names = _fields_of(kind)
    if names is not None:
        return {name: _encode(getattr(value, name)) for name in names}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return _json.default(value)  # as the outbox's own encoder writes them
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _encode(v) for k, v in value.items()}
    return value


def payload_decode(cls: type[T], data: Mapping[str, Any]) -> T:
    """The outbox's JSON object as the dataclass `cls`."""
    return typing.cast(T, _decode(cls, data, cls.__name__))


def event_payload(event: DomainEvent, cls: type[T]) -> T:
    """An event's payload as its contract: `cls` must be the dataclass registered for it."""
    registered = _contracts.get(event.name)
    if registered is not cls:
        raise ContractError(f"{event.name} carries {registered and registered.__name__}, not {cls}")
    return payload_decode(cls, event.payload)


def contract_event(
    payload: Any, *, aggregate_type: str, aggregate_id: str | int, lane_keys: Any = ()
) -> NewEvent:
    """The outbox row for a payload dataclass: its registered name, its JSON."""
    name = _name_of(type(payload))
    return NewEvent(
        name, aggregate_type, aggregate_id, payload_encode(payload), lane=lane_of(lane_keys)
    )


def subscribe_to(
    cls: type[T],
) -> Callable[[Callable[[T, DomainEvent], None]], Callable[[T, DomainEvent], None]]:
    """`events.subscribe` for a contract's event: the handler gets the decoded payload (and the
    event, for its correlation id)."""

    def register(handler: Callable[[T, DomainEvent], None]) -> Callable[[T, DomainEvent], None]:
        @functools.wraps(handler)  # the same receipts' key: module.qualname
        def handle(event: DomainEvent) -> None:
            handler(event_payload(event, cls), event)

        subscribe(_name_of(cls))(handle)
        return handler

    return register


def subscribe_many_to(
    cls: type[T],
) -> Callable[[Callable[[Sequence[Typed[T]]], None]], Callable[[Sequence[Typed[T]]], None]]:
    """`events.subscribe_many` for a contract's event: the handler gets a chunk of decoded
    payloads, each with its event."""

    def register(
        handler: Callable[[Sequence[Typed[T]]], None],
    ) -> Callable[[Sequence[Typed[T]]], None]:
        @functools.wraps(handler)
        def handle(events: Sequence[DomainEvent]) -> None:
            handler([Typed(event_payload(e, cls), e) for e in events])

        subscribe_many(_name_of(cls))(handle)
        return handler

    return register


@dataclass(frozen=True, slots=True)
class Typed(Generic[T]):
    """An event with its payload decoded."""

    payload: T
    event: DomainEvent


def _name_of(cls: type[Any]) -> str:
    name = getattr(cls, "EVENT", None)
    if name is None or _contracts.get(name) is not cls:
        raise TypeError(f"{cls.__name__} is not a registered event contract")
    return str(name)


@functools.cache
def _hints(cls: type[Any]) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(kind: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(kind)
    if kind is Any:
        return value
    if origin in (Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return None
        (inner,) = [o for o in options if o is not type(None)]
        return _decode(inner, value, where)
    if value is None:
        raise ContractError(f"{where}: missing")
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        if not isinstance(value, Mapping):
            raise ContractError(f"{where}: an object expected")
        hints = _hints(kind)
        values = {}
        for f in dataclasses.fields(kind):
            if f.name in value:
                values[f.name] = _decode(hints[f.name], value[f.name], f"{where}.{f.name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ContractError(f"{where}.{f.name}: missing")
        return kind(**values)
    if origin is tuple:
        args = typing.get_args(kind)
        return tuple(_decode(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (dict, Mapping) or kind in (dict, Mapping):
        return dict(value)
    if kind is Decimal:
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise ContractError(f"{where}: an amount as a string or integer expected")
        return Decimal(value)
    if kind is datetime:
        parsed = value if isinstance(value, datetime) else parse_datetime(value)
        if parsed is None:
            raise ContractError(f"{where}: a date and time expected")
        return parsed
    if kind is date:
        parsed_date = value if isinstance(value, date) else parse_date(value)
        if parsed_date is None:
            raise ContractError(f"{where}: a date expected")
        return parsed_date
    if kind in (int, str, bool):
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ContractError(f"{where}: {kind.__name__} expected")
        return value
    raise ContractError(f"{where}: no decoding for {kind}")
