"""Dynamics 365 Finance general journal against a local OData server that checks what the
LedgerJournalHeader / LedgerJournalLine entities document and answers as D365 does."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from journals.erp import adapter_for
from journals.erp.base import Credentials
from tests.journals.erp.localerp import Answer, LocalErp, Seen, require
from tests.journals.erp.sample import CLEARING, FEES, SALES, sales_journal

TOKEN = "d365-bearer-7f3a9c"
ORDER = ["BusinessUnit", "Department", "CostCenter"]
CLAUSE = re.compile(r"(\w+) eq '((?:[^']|'')*)'")


class D365(LocalErp):
    def __init__(self) -> None:
        super().__init__()
        self.headers: dict[str, dict[str, Any]] = {}
        self.lines: list[dict[str, Any]] = []
        self.throttle = 0

    def handle(self, request: Seen) -> Answer:
        require(request.headers.get("authorization") == f"Bearer {TOKEN}", "bearer token")
        if self.throttle:
            self.throttle -= 1
            return Answer.of_json(429, {"error": {"message": "throttled"}}, **{"Retry-After": "7"})
        if request.method == "GET":
            require(request.query.get("cross-company") == "true", "cross-company reads")
            conditions = {
                name: value.replace("''", "'")
                for name, value in CLAUSE.findall(request.query["$filter"])
            }
            rows = (
                self.lines if request.path == "/data/LedgerJournalLines" else self.headers.values()
            )
            found = [r for r in rows if all(r.get(k) == v for k, v in conditions.items())]
            return Answer.of_json(200, {"value": found})
        require(request.method == "POST", "create with POST")
        require(request.headers.get("content-type", "").startswith("application/json"), "JSON")
        body = request.json()
        require(bool(body.get("dataAreaId")), "dataAreaId on every record")
        if request.path == "/data/LedgerJournalHeaders":
            require(bool(body.get("JournalName")), "JournalName is required")
            number = f"{731 + len(self.headers):05d}"
            self.headers[number] = {**body, "JournalBatchNumber": number, "IsPosted": "No"}
            return Answer.of_json(201, self.headers[number])
        require(request.path == "/data/LedgerJournalLines", f"unknown entity {request.path}")
        header = self.headers.get(body.get("JournalBatchNumber", ""))
        require(header is not None, "the line's header must exist")
        require(header["dataAreaId"] == body["dataAreaId"], "line and header in one company")
        require(header["IsPosted"] == "No", "the header must be unposted")
        for name in ("TransDate", "Voucher", "CurrencyCode", "AccountDisplayValue"):
            require(bool(body.get(name)), f"{name} is required")
        require(body.get("AccountType") == "Ledger", "ledger lines")
        require(
            re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["TransDate"]) is not None,
            "TransDate is Edm.DateTimeOffset",
        )
        segments = body["AccountDisplayValue"].split("-")
        require(len(segments) == 1 + len(ORDER), "the integration format's segment count")
        debit, credit = Decimal(body["DebitAmount"]), Decimal(body["CreditAmount"])
        require((debit > 0) != (credit > 0) and min(debit, credit) == 0, "one of debit/credit")
        if segments[3] == "099":
            infolog = (
                "Write failed for table row of type 'LedgerJournalLineEntity'. Infolog: "
                "Error: Value '099' for dimension 'CostCenter' does not exist."
            )
            error = {
                "code": "",
                "message": "An error has occurred.",
                "innererror": {
                    "message": infolog,
                    "type": "Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException",
                    "stacktrace": "",
                },
            }
            return Answer.of_json(500, {"error": error})
        self.lines.append({**body, "DebitAmount": debit, "CreditAmount": credit})
        return Answer.of_json(201, body)

    def voucher_balance(self, batch: str) -> dict[tuple[str, str], Decimal]:
        totals: dict[tuple[str, str], Decimal] = {}
        for line in self.lines:
            if line["JournalBatchNumber"] == batch:
                key = (line["Voucher"], line["TransDate"])
                totals[key] = (
                    totals.get(key, Decimal(0)) + line["DebitAmount"] - line["CreditAmount"]
                )
        return totals


@pytest.fixture
def erp() -> Iterator[D365]:
    server = D365()
    yield from server.serve()
    assert server.violations == []


def credentials(erp: D365, timeout: float = 5.0) -> Credentials:
    values = {"token": TOKEN, "dimension_order": ",".join(ORDER), "journal_name": "GenJrn"}
    return Credentials(base_url=erp.url, values=values, timeout=timeout)


DIMS = {"BusinessUnit": "001", "Department": "022"}
# The sample key has 22 characters, more than Document's 20: a digest of it stands in.
HANDLE = "RS" + hashlib.sha256(b"je-2026-11-000123-post").hexdigest().upper()[:18]


def test_the_journal_lands_as_one_header_with_balanced_lines(erp: D365) -> None:
    journal = sales_journal(dimensions=DIMS)

    delivery = adapter_for("dynamics365").deliver(journal, credentials(erp))

    assert delivery.ok, delivery.error
    assert delivery.document_id == "00731"
    header = erp.headers["00731"]
    assert header["dataAreaId"] == "usmf"
    assert header["JournalName"] == "GenJrn"
    assert header["Description"] == f"{HANDLE} Shopify sales 2026-11-25"
    assert [
        (line["LineNumber"], line["AccountDisplayValue"], line["DebitAmount"], line["CreditAmount"])
        for line in erp.lines
    ] == [
        (1, "110180-001-022-", CLEARING, 0),
        (2, "618100-001-022-", FEES, 0),
        (3, "401100-001-022-", 0, SALES),
    ]
    assert {line["Document"] for line in erp.lines} == {HANDLE}
    assert {line["TransDate"] for line in erp.lines} == {"2026-11-25T12:00:00Z"}
    assert {line["CurrencyCode"] for line in erp.lines} == {"USD"}
    assert erp.voucher_balance("00731") == {("JE-2026-11-000123", "2026-11-25T12:00:00Z"): 0}
    assert TOKEN not in delivery.request
    assert "Authorization: Bearer ***" in delivery.request
    assert "HTTP 201" in delivery.response


def test_an_unknown_dimension_value_is_a_refusal_with_the_infolog(erp: D365) -> None:
    journal = sales_journal(dimensions={**DIMS, "CostCenter": "099"})

    delivery = adapter_for("dynamics365").deliver(journal, credentials(erp))

    assert not delivery.ok
    assert not delivery.retry
    assert "Value '099' for dimension 'CostCenter' does not exist" in delivery.error
    assert erp.lines == []


def test_a_dimension_outside_the_integration_format_is_refused_before_sending(erp: D365) -> None:
    journal = sales_journal(dimensions={"Channel": "shopify"})

    delivery = adapter_for("dynamics365").deliver(journal, credentials(erp))

    assert (delivery.ok, delivery.retry) == (False, False)
    assert "Channel" in delivery.error
    assert erp.requests == []


@pytest.mark.parametrize(
    "lost", ["/data/LedgerJournalHeaders", "/data/LedgerJournalLines"], ids=["header", "line"]
)
def test_a_lost_answer_is_retried_and_the_redelivery_completes_the_same_journal(
    erp: D365, lost: str
) -> None:
    journal = sales_journal(dimensions=DIMS)
    erp.stall("POST", lost, seconds=1.2)

    first = adapter_for("dynamics365").deliver(journal, credentials(erp, timeout=0.5))

    assert (first.ok, first.retry) == (False, True)
    assert "timed out" in first.error
    assert erp.stalled.wait(5)
    again = adapter_for("dynamics365").deliver(journal, credentials(erp))
    assert again.ok, again.error
    assert again.document_id == "00731"
    assert list(erp.headers) == ["00731"]
    assert [line["LineNumber"] for line in erp.lines] == [1, 2, 3]
    assert erp.voucher_balance("00731") == {("JE-2026-11-000123", "2026-11-25T12:00:00Z"): 0}


def test_a_redelivery_creates_nothing_and_answers_the_same_batch(erp: D365) -> None:
    journal = sales_journal(dimensions=DIMS)
    first = adapter_for("dynamics365").deliver(journal, credentials(erp))
    posts = len(erp.seen("POST"))

    again = adapter_for("dynamics365").deliver(journal, credentials(erp))

    assert (first.document_id, again.document_id) == ("00731", "00731")
    assert again.ok
    assert len(erp.seen("POST")) == posts == 4
    assert len(erp.headers) == 1
    assert len(erp.lines) == 3


def test_throttling_is_retried_later(erp: D365) -> None:
    erp.throttle = 1

    delivery = adapter_for("dynamics365").deliver(sales_journal(), credentials(erp))

    assert (delivery.ok, delivery.retry) == (False, True)
    assert delivery.error.startswith("HTTP 429")
    assert "retry after 7 s" in delivery.error
