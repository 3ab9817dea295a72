"""NetSuite journal entry against a local REST record service that checks the documented
`journalentry` shape and answers as NetSuite does (204 + Location, `o:errorDetails`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

import pytest

from journals.erp import adapter_for
from journals.erp.base import Credentials
from tests.journals.erp.localerp import Answer, LocalErp, Seen, balanced, require
from tests.journals.erp.sample import CLEARING, FEES, SALES, sales_journal

TOKEN = "ns-oauth2-token-51c0"
RECORDS = "/services/rest/record/v1/journalentry/"


class NetSuiteRecords(LocalErp):
    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[str, dict[str, Any]] = {}  # internal id -> record
        self.throttle = 0

    def handle(self, request: Seen) -> Answer:
        require(request.headers.get("authorization") == f"Bearer {TOKEN}", "bearer token")
        if self.throttle:
            self.throttle -= 1
            detail = {
                "detail": "Concurrency limit exceeded.",
                "o:errorCode": "CONCURRENCY_LIMIT_EXCEEDED",
            }
            return Answer.of_json(429, {"status": 429, "o:errorDetails": [detail]})
        require(request.method == "PUT", "upsert is PUT only")
        require(request.path.startswith(RECORDS + "eid:"), "upsert needs an eid: URL")
        external_id = unquote(request.path.removeprefix(RECORDS + "eid:"))
        body = request.json()
        require(body.get("externalId") == external_id, "externalId matches the eid: URL")
        require(set(body["subsidiary"]) == {"id"}, "subsidiary is a reference")
        require(set(body["currency"]) == {"id"}, "currency is a reference")
        require(re.fullmatch(r"\d{4}-\d\d-\d\d", body.get("tranDate", "")) is not None, "tranDate")
        items = body["line"]["items"]
        require(len(items) >= 2, "two lines at least")
        for item in items:
            require(set(item["account"]) == {"id"}, "account is a reference")
            require(("debit" in item) != ("credit" in item), "one of debit/credit per line")
            require(Decimal(item.get("debit", item.get("credit"))) > 0, "positive amounts")
        debits = [Decimal(i["debit"]) for i in items if "debit" in i]
        credits = [Decimal(i["credit"]) for i in items if "credit" in i]
        require(balanced(debits, credits), "NetSuite will not save an unbalanced entry")
        for index, item in enumerate(items):
            if item.get("department") == {"id": "99"}:
                detail = {
                    "detail": "Error while accessing a resource. You have entered an Invalid "
                    "Field Value 99 for the following field: department.",
                    "o:errorCode": "USER_ERROR",
                    "o:errorPath": f"line.items[{index}].department",
                }
                error = {
                    "type": "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.1",
                    "title": "Bad Request",
                    "status": 400,
                    "o:errorDetails": [detail],
                }
                return Answer.of_json(400, error)
        internal_id = next(
            (i for i, e in self.entries.items() if e["externalId"] == external_id),
            str(9917 + len(self.entries)),
        )
        self.entries[internal_id] = body
        return Answer(204, headers={"Location": f"{self.url}{RECORDS}{internal_id}"})


@pytest.fixture
def erp() -> Iterator[NetSuiteRecords]:
    server = NetSuiteRecords()
    yield from server.serve()
    assert server.violations == []


def credentials(erp: NetSuiteRecords, timeout: float = 5.0) -> Credentials:
    values = {"token": TOKEN, "currency_ids": "USD:1, EUR:4"}
    return Credentials(base_url=erp.url, values=values, timeout=timeout)


def journal(**dims: str) -> Any:
    return sales_journal(legal_entity="3", accounts=("58", "612", "4"), dimensions=dims)


def test_the_entry_is_upserted_by_external_id(erp: NetSuiteRecords) -> None:
    delivery = adapter_for("netsuite").deliver(
        journal(department="3", location="7"), credentials(erp)
    )

    assert delivery.ok, delivery.error
    assert delivery.document_id == "9917"
    (put,) = erp.seen("PUT")
    assert put.path == RECORDS + "eid:je-2026-11-000123-post"
    record = erp.entries["9917"]
    assert record["externalId"] == "je-2026-11-000123-post"
    assert record["subsidiary"] == {"id": "3"}
    assert record["currency"] == {"id": "1"}
    assert record["tranDate"] == "2026-11-25"
    assert record["approved"] is True
    assert [
        (i["account"]["id"], i.get("debit"), i.get("credit"), i["department"], i["location"])
        for i in record["line"]["items"]
    ] == [
        ("58", CLEARING, None, {"id": "3"}, {"id": "7"}),
        ("612", FEES, None, {"id": "3"}, {"id": "7"}),
        ("4", None, SALES, {"id": "3"}, {"id": "7"}),
    ]
    assert TOKEN not in delivery.request
    assert "HTTP 204" in delivery.response


def test_an_invalid_field_value_is_refused_with_netsuites_message(erp: NetSuiteRecords) -> None:
    delivery = adapter_for("netsuite").deliver(journal(department="99"), credentials(erp))

    assert (delivery.ok, delivery.retry) == (False, False)
    assert delivery.error.startswith("HTTP 400: USER_ERROR: Error while accessing a resource.")
    assert "Invalid Field Value 99 for the following field: department" in delivery.error
    assert "(at line.items[0].department)" in delivery.error
    assert erp.entries == {}


def test_a_currency_without_a_netsuite_id_is_refused_before_sending(erp: NetSuiteRecords) -> None:
    entry = sales_journal(legal_entity="3", accounts=("58", "612", "4"), currency="GBP")

    delivery = adapter_for("netsuite").deliver(entry, credentials(erp))

    assert (delivery.ok, delivery.retry) == (False, False)
    assert "GBP" in delivery.error
    assert erp.requests == []


def test_a_lost_answer_is_retried_and_the_redelivery_lands_on_the_same_record(
    erp: NetSuiteRecords,
) -> None:
    erp.stall("PUT", RECORDS, seconds=1.2)

    first = adapter_for("netsuite").deliver(journal(), credentials(erp, timeout=0.5))

    assert (first.ok, first.retry) == (False, True)
    assert "timed out" in first.error
    assert erp.stalled.wait(5)
    assert list(erp.entries) == ["9917"]  # NetSuite saved it; only the answer was lost
    again = adapter_for("netsuite").deliver(journal(), credentials(erp))
    assert (again.ok, again.document_id) == (True, "9917")
    assert list(erp.entries) == ["9917"]


def test_a_redelivery_answers_the_same_internal_id_and_adds_no_entry(erp: NetSuiteRecords) -> None:
    first = adapter_for("netsuite").deliver(journal(), credentials(erp))
    again = adapter_for("netsuite").deliver(journal(), credentials(erp))

    assert (first.document_id, again.document_id) == ("9917", "9917")
    assert len(erp.entries) == 1
    assert [r.path for r in erp.seen("PUT")] == [RECORDS + "eid:je-2026-11-000123-post"] * 2


def test_the_concurrency_limit_is_retried_later(erp: NetSuiteRecords) -> None:
    erp.throttle = 1

    delivery = adapter_for("netsuite").deliver(journal(), credentials(erp))

    assert (delivery.ok, delivery.retry) == (False, True)
    assert delivery.error == "HTTP 429: CONCURRENCY_LIMIT_EXCEEDED: Concurrency limit exceeded."
