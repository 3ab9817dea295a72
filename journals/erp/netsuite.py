"""Oracle NetSuite: a journal entry through the REST record service (record/v1 `journalentry`).

Idempotency: NetSuite's documented upsert. Our idempotency key is the record's `externalId`,
and the entry is sent as `PUT /services/rest/record/v1/journalentry/eid:<key>`, which creates
the entry when no journal entry has that external id and otherwise updates the one that does:
a redelivery lands on the same record, and its internal id comes back in `Location`.

Credentials: `token` (OAuth 2.0 bearer), `currency_ids` ("USD:1, EUR:4": NetSuite refers to
currencies by internal id; a journal in a currency with no id is refused rather than left to
default to the subsidiary's), optional `approved` ("false" leaves entries to approval routing).
The legal entity is the subsidiary's internal id; line dimensions (`department`, `class`,
`location`, `entity`, custom segments) are sent as references by internal id.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .base import Credentials, Delivery, ErpJournal
from .common import Json, amount, journal_problem, pairs, setting, to_json
from .transport import Exchange, Reply

RECORDS = "/services/rest/record/v1/journalentry"
MEMO_SIZE = 999


class NetSuite:
    name = "netsuite"

    def deliver(self, journal: ErpJournal, credentials: Credentials) -> Delivery:
        exchange = Exchange(credentials)
        problem = journal_problem(journal)
        currency_id = pairs(setting(credentials.values, "currency_ids")).get(journal.currency)
        if not problem and not currency_id:
            problem = f"no NetSuite currency id for {journal.currency} (credentials 'currency_ids')"
        if problem:
            return exchange.refused(problem)
        headers = {
            "Authorization": f"Bearer {credentials.values.get('token', '')}",
            "Accept": "application/json",
            "Content-Type": "application/json; charset=utf-8",
        }
        path = f"{RECORDS}/eid:{quote(journal.idempotency_key, safe='')}"
        body = to_json(record(journal, str(currency_id), credentials)).encode()
        reply = exchange.send("PUT", path, headers=headers, body=body)
        if not reply.ok:
            return _failed(exchange, reply)
        internal_id = reply.header("location").rstrip("/").rsplit("/", 1)[-1]
        if not internal_id or internal_id.startswith("eid:"):
            return exchange.failed(reply, "no internal id in the Location header")
        return exchange.done(internal_id)


def record(journal: ErpJournal, currency_id: str, credentials: Credentials) -> Json:
    memo = f"{journal.reference} {journal.description}".strip()
    if journal.reversal_of:
        memo = f"{memo} (reverses {journal.reversal_of})"
    items: list[Json] = []
    for line in journal.lines:
        item: dict[str, Json] = {"account": {"id": line.account}}
        if line.debit:
            item["debit"] = amount(line.debit, journal.currency)
        else:
            item["credit"] = amount(line.credit, journal.currency)
        if line.description:
            item["memo"] = line.description[:MEMO_SIZE]
        for name, value in sorted(line.dimensions.items()):
            item[name] = {"id": value}
        items.append(item)
    return {
        "externalId": journal.idempotency_key,
        "subsidiary": {"id": journal.legal_entity},
        "currency": {"id": currency_id},
        "tranDate": journal.posting_date.isoformat(),
        "memo": memo[:MEMO_SIZE],
        "approved": setting(credentials.values, "approved", "true").lower() != "false",
        "line": {"items": items},
    }


def _failed(exchange: Exchange, reply: Reply) -> Delivery:
    """NetSuite's error body: `o:errorDetails[]` with `detail`, `o:errorCode`, `o:errorPath`."""
    data: Any = reply.json()
    details = data.get("o:errorDetails") if isinstance(data, dict) else None
    if not isinstance(details, list):
        return exchange.failed(reply)
    messages = []
    for detail in details:
        if not isinstance(detail, dict):
            continue
        text = f"{detail.get('o:errorCode', '')}: {detail.get('detail', '')}".strip(": ")
        if detail.get("o:errorPath"):
            text += f" (at {detail['o:errorPath']})"
        messages.append(text)
    return exchange.failed(reply, "; ".join(messages))
