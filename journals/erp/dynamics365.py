"""Microsoft Dynamics 365 Finance: a general journal through the OData entities
`LedgerJournalHeaders` (the journal batch) and `LedgerJournalLines` (its lines).

The lines land in an unposted journal: D365 has no standard OData action that posts a general
journal (../shared/erp-formats.md §1), so posting stays with D365 (a batch job, the UI, or the
customer's own service).

Idempotency: D365 has no idempotency key on these entities. Every line carries our handle in
`Document`, and the header carries it at the start of its `Description`. Before creating, the
adapter looks both up: lines found → their batch is the document (any line a lost answer left
out is added under its own `LineNumber`, so nothing is posted twice); a header found without
lines (the answer to its creation was lost) → the lines go into that header.

Dimensions ride inside `AccountDisplayValue` in the tenant's "ledger dimensions integration
format": credentials `dimension_order` (e.g. "BusinessUnit,Department,CostCenter") and
`delimiter` (default "-"). A line dimension with no place in that format is refused, never
dropped. Other credentials: `token` (Microsoft Entra ID bearer), `journal_name` ("GenJrn").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

from .base import Credentials, Delivery, ErpJournal, ErpLine
from .common import (
    Json,
    amount,
    journal_problem,
    odata_literal,
    setting,
    short_handle,
    to_json,
)
from .transport import Exchange, Reply

HEADERS = "/data/LedgerJournalHeaders"
LINES = "/data/LedgerJournalLines"
DOCUMENT_SIZE = 20  # the Document field is a 20-character document number
DESCRIPTION_SIZE = 60
VOUCHER_SIZE = 20
# An X++ write failure comes back as HTTP 500 with this type: the data is wrong, not the server.
WRITE_FAILURE = "AxODataWriteException"


class Dynamics365:
    name = "dynamics365"

    def deliver(self, journal: ErpJournal, credentials: Credentials) -> Delivery:
        exchange = Exchange(credentials)
        problem = journal_problem(journal) or _layout_problem(journal, credentials)
        if problem:
            return exchange.refused(problem)
        handle = short_handle(journal.idempotency_key, DOCUMENT_SIZE)
        description = f"{handle} {journal.description}"[:DESCRIPTION_SIZE].rstrip()
        headers = {
            "Authorization": f"Bearer {credentials.values.get('token', '')}",
            "Accept": "application/json",
            "Content-Type": "application/json; charset=utf-8",
            "OData-Version": "4.0",
        }
        company = odata_literal(journal.legal_entity)

        reply = exchange.send(
            "GET",
            _query(LINES, f"dataAreaId eq {company} and Document eq {odata_literal(handle)}"),
            headers=headers,
        )
        if not reply.ok:
            return _failed(exchange, reply)
        found = _rows(reply)
        batch = str(found[0].get("JournalBatchNumber", "")) if found else ""
        present = {int(Decimal(str(row.get("LineNumber", 0)))) for row in found}

        if not batch:
            reply = exchange.send(
                "GET",
                _query(
                    HEADERS,
                    f"dataAreaId eq {company} and Description eq {odata_literal(description)}",
                ),
                headers=headers,
            )
            if not reply.ok:
                return _failed(exchange, reply)
            orphans = _rows(reply)
            batch = str(orphans[0].get("JournalBatchNumber", "")) if orphans else ""

        if not batch:
            header: Json = {
                "dataAreaId": journal.legal_entity,
                "JournalName": setting(credentials.values, "journal_name", "GenJrn"),
                "Description": description,
            }
            reply = exchange.send("POST", HEADERS, headers=headers, body=to_json(header).encode())
            if not reply.ok:
                return _failed(exchange, reply)
            created = reply.json()
            batch = str(created.get("JournalBatchNumber", "")) if isinstance(created, dict) else ""
            if not batch:
                return exchange.failed(
                    reply, "the created journal header has no JournalBatchNumber"
                )

        for number, line in enumerate(journal.lines, start=1):
            if number in present:
                continue
            body = _line(journal, line, number, batch, handle, credentials)
            reply = exchange.send("POST", LINES, headers=headers, body=to_json(body).encode())
            if not reply.ok:
                return _failed(exchange, reply)
        return exchange.done(batch)


def _query(path: str, condition: str) -> str:
    query = {"$filter": condition, "cross-company": "true"}
    return path + "?" + urlencode(query, quote_via=quote)


def _rows(reply: Reply) -> list[dict[str, Any]]:
    data = reply.json()
    rows = data.get("value") if isinstance(data, dict) else None
    return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []


def _order(credentials: Credentials) -> list[str]:
    order = setting(credentials.values, "dimension_order")
    return [name.strip() for name in order.split(",") if name.strip()]


def _layout_problem(journal: ErpJournal, credentials: Credentials) -> str:
    order = set(_order(credentials))
    for number, line in enumerate(journal.lines, start=1):
        unplaced = sorted(set(line.dimensions) - order)
        if unplaced:
            return (
                f"line {number}: dimension {', '.join(unplaced)} has no segment in the "
                "ledger dimensions integration format (credentials 'dimension_order')"
            )
    return ""


def display_value(line: ErpLine, credentials: Credentials) -> str:
    """Main account then every dimension of the integration format, in its order."""
    delimiter = setting(credentials.values, "delimiter", "-")
    segments = [line.account] + [line.dimensions.get(name, "") for name in _order(credentials)]
    return delimiter.join(segments)


def _line(
    journal: ErpJournal,
    line: ErpLine,
    number: int,
    batch: str,
    handle: str,
    credentials: Credentials,
) -> Json:
    text = line.description or journal.description
    if journal.reversal_of:
        text = f"Reversal of {journal.reversal_of}: {text}"
    return {
        "dataAreaId": journal.legal_entity,
        "JournalBatchNumber": batch,
        "LineNumber": Decimal(number),
        "AccountType": "Ledger",
        "AccountDisplayValue": display_value(line, credentials),
        "TransDate": f"{journal.posting_date.isoformat()}T12:00:00Z",
        "Voucher": journal.reference[:VOUCHER_SIZE],
        "CurrencyCode": journal.currency,
        "DebitAmount": amount(line.debit, journal.currency),
        "CreditAmount": amount(line.credit, journal.currency),
        "Text": text[:DESCRIPTION_SIZE],
        "Document": handle,
    }


def _failed(exchange: Exchange, reply: Reply) -> Delivery:
    """D365's OData error: the useful text is the X++ infolog in `innererror.message`; a write
    failure is the data's fault even though it comes back as HTTP 500."""
    data = reply.json()
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return exchange.failed(reply)
    inner = error.get("innererror")
    inner = inner if isinstance(inner, dict) else {}
    message = str(inner.get("message") or error.get("message") or "")
    if str(inner.get("type", "")).endswith(WRITE_FAILURE):
        return exchange.refused(f"HTTP {reply.status}: {message}")
    return exchange.failed(reply, message)
