"""What the domain apps plug into the core, each from its `AppConfig.ready()`.

The core imports no domain app, so it is told at start-up what it must know of them:
- the processor of each kind of stored inbound message (`order`, `order_batch`, `refund`, ...),
  which replay runs a message through again, from its stored bytes;
- for each channel source, the headers of its deliveries that identify a message (the
  channel's delivery or event id, its topic) and the others worth keeping with it. The core
  itself knows only the generic ones, which any source may send;
- the sections that apps higher on the ladder add to a lower app's page (`register_panel`:
  the order page shows what settlements and journals know of an order, the return and
  settlement line pages the journal lines they fed) without the lower app importing them;
- the exception kinds each app raises, in words (`register_reasons`), and the page and human
  name of each kind of record an exception, a trace or a ledger line refers to
  (`register_object_link`: an order is `WS-6018` at /orders/139/, not "order 139").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from django.http import HttpRequest

    from .models import InboundMessage


class Processor(Protocol):
    """Runs one stored message through its app's pipeline, as a live delivery would have, and
    says in a line what came of it. A refusal is a `DomainError` (or a rejected status)."""

    def __call__(self, *, message: InboundMessage, now: datetime) -> str: ...


_processors: dict[str, Processor] = {}


def register_processor(kind: str, processor: Processor) -> None:
    _processors[kind] = processor


def processor_for(kind: str) -> Processor | None:
    return _processors.get(kind)


# Any source: a generic delivery id (preferred after the source's own), and what is kept.
GENERIC_MESSAGE_ID_HEADERS = ("X-Message-Id", "Idempotency-Key")
GENERIC_KEPT_HEADERS = ("Content-Type", "User-Agent", "X-Correlation-ID")


@dataclass(frozen=True, slots=True)
class MessageHeaders:
    """Header names in lower case, as a delivery's headers are looked up."""

    message_id: tuple[str, ...]  # the first present wins
    topic: tuple[str, ...]  # the first present wins
    kept: dict[str, str]  # lower case -> as spelled in the stored message


def _message_headers(
    message_id: Iterable[str] = (), topic: Iterable[str] = (), kept: Iterable[str] = ()
) -> MessageHeaders:
    ids = [*message_id, *GENERIC_MESSAGE_ID_HEADERS]
    topics = list(topic)
    return MessageHeaders(
        message_id=tuple(name.lower() for name in ids),
        topic=tuple(name.lower() for name in topics),
        kept={name.lower(): name for name in [*GENERIC_KEPT_HEADERS, *ids, *topics, *kept]},
    )


_GENERIC = _message_headers()
_headers: dict[str, MessageHeaders] = {}


def register_message_headers(
    source: str,
    *,
    message_id: Iterable[str] = (),
    topic: Iterable[str] = (),
    kept: Iterable[str] = (),
) -> None:
    """The headers that identify a delivery from channels of `source` (their preferred id
    first), and the others worth keeping with it."""
    _headers[source] = _message_headers(message_id, topic, kept)


def message_headers_for(source: str) -> MessageHeaders:
    return _headers.get(source, _GENERIC)


class Panel(Protocol):
    """A section of a page (`order`, `return`, `settlement_line`) that an app above the page's
    own app fills for one record. The HTML it returns is already escaped (a rendered
    template); an empty string leaves the section out (the person may not see it)."""

    def __call__(self, request: HttpRequest, *, object_id: int) -> str: ...


_panels: dict[str, dict[str, Panel]] = {}


def register_panel(page: str, name: str, panel: Panel) -> None:
    _panels.setdefault(page, {})[name] = panel


def panels(request: HttpRequest, *, page: str, object_id: int) -> list[str]:
    """A page's extra sections for one record, in the order the apps registered them."""
    registered = _panels.get(page, {}).values()
    return [html for panel in registered if (html := panel(request, object_id=object_id))]


class OrderPanel(Protocol):
    """A section of the order page that an app above orders fills (settlements: the order's
    money as the providers paid it). The HTML it returns is already escaped (a rendered
    template); an empty string leaves the section out (the person may not see it)."""

    def __call__(self, request: HttpRequest, *, order_id: int) -> str: ...


def register_order_panel(name: str, panel: OrderPanel) -> None:
    def on_order_page(request: HttpRequest, *, object_id: int) -> str:
        return panel(request, order_id=object_id)

    register_panel("order", name, on_order_page)


def order_panels(request: HttpRequest, *, order_id: int) -> list[str]:
    """The order page's extra sections, in the order the apps registered them."""
    return panels(request, page="order", object_id=order_id)


# --- What the exception queue says of each app's exceptions ----------------------------------

_reasons: dict[str, dict[str, str]] = {}


def register_reasons(domain: str, reasons: dict[str, str]) -> None:
    """The exception kinds (reason codes) an app raises, each in words a person reads
    (`no_order`: "no order found for it"). The workbench lists them by domain."""
    _reasons.setdefault(domain, {}).update(reasons)


def reasons_by_domain() -> dict[str, dict[str, str]]:
    return {domain: dict(kinds) for domain, kinds in sorted(_reasons.items())}


def reason_words(kind: str) -> str:
    """A kind as a person reads it; one no app registered reads as its code in words."""
    for kinds in _reasons.values():
        if kind in kinds:
            return kinds[kind]
    return kind.replace("_", " ")


@dataclass(frozen=True, slots=True)
class ObjectLink:
    """Where a record's page is and what people call it (`WS-6018`, `RMA-4`)."""

    url: str
    label: str


class LinkResolver(Protocol):
    """The pages and human names of records of one type, for many ids in one query: ids it
    does not know (a record since deleted) are left out."""

    def __call__(self, ids: Sequence[str]) -> dict[str, ObjectLink]: ...


_links: dict[str, LinkResolver] = {}


def register_object_link(object_type: str, resolver: LinkResolver) -> None:
    _links[object_type] = resolver


def object_links(refs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], ObjectLink]:
    """The link of each `(object_type, object_id)` that an app can name, one query per type."""
    wanted: dict[str, set[str]] = {}
    for object_type, object_id in refs:
        if object_type and object_id and object_type in _links:
            wanted.setdefault(object_type, set()).add(str(object_id))
    found: dict[tuple[str, str], ObjectLink] = {}
    for object_type, ids in wanted.items():
        for object_id, link in _links[object_type](sorted(ids)).items():
            found[(object_type, object_id)] = link
    return found


class ObjectSearch(Protocol):
    """The ids of records of one type that people call `text` (an order number, `RMA-4`)."""

    def __call__(self, text: str) -> list[str]: ...


_searches: dict[str, ObjectSearch] = {}


def register_object_search(object_type: str, search: ObjectSearch) -> None:
    _searches[object_type] = search


def objects_named(text: str) -> dict[str, list[str]]:
    """For each type an app can search, the ids of its records that `text` names."""
    found = {object_type: search(text) for object_type, search in _searches.items()}
    return {object_type: ids for object_type, ids in found.items() if ids}
