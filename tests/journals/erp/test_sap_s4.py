"""SAP S/4HANA Cloud Journal Entry – Post against a local SOAP endpoint that checks the
`JournalEntryBulkCreateRequest` envelope and answers with SAP's confirmation (errors in the log
of an HTTP 200), plus the OData item read the adapter looks a document up with."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from journals.erp import adapter_for
from journals.erp.base import Credentials
from journals.erp.sap_s4 import SapS4
from tests.journals.erp.localerp import Answer, LocalErp, Seen, require
from tests.journals.erp.sample import CLEARING, FEES, SALES, sales_journal

USER, PASSWORD = "COMM_USER_RS", "sap-comm-pw-77d1"
POST_PATH = "/sap/bc/srt/scs_ext/sap/journalentrycreaterequestconfi"
LOOKUP_PATH = "/sap/opu/odata/sap/API_OPLACCTGDOCITEMCUBE_SRV/A_OperationalAcctgDocItemCube"
SOAP = "{http://schemas.xmlsoap.org/soap/envelope/}"
SFIN = "{http://sap.com/xi/SAPSCORE/SFIN}"
CHART = {"0011001000", "0061810000", "0041000000"}
CLAUSE = re.compile(r"(\w+) eq '((?:[^']|'')*)'")


def confirmation(document: str, year: str, severity: int, notes: list[tuple[str, str]]) -> str:
    items = "".join(
        f"<Item><TypeID>{type_id}</TypeID><SeverityCode>{severity}</SeverityCode><Note>{note}</Note></Item>"
        for type_id, note in notes
    )
    return (
        '<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/">'
        "<soap-env:Header/><soap-env:Body>"
        '<n0:JournalEntryBulkCreateConfirmation xmlns:n0="http://sap.com/xi/SAPSCORE/SFIN">'
        "<MessageHeader><ID>c0ffee</ID></MessageHeader>"
        "<JournalEntryCreateConfirmation><MessageHeader><ID>c0ffee-1</ID></MessageHeader>"
        f"<JournalEntryCreateConfirmation><AccountingDocument>{document}</AccountingDocument>"
        f"<CompanyCode>1010</CompanyCode><FiscalYear>{year}</FiscalYear></JournalEntryCreateConfirmation>"
        f"<Log><MaximumLogItemSeverityCode>{severity}</MaximumLogItemSeverityCode>{items}</Log>"
        "</JournalEntryCreateConfirmation></n0:JournalEntryBulkCreateConfirmation>"
        "</soap-env:Body></soap-env:Envelope>"
    )


class SapSoap(LocalErp):
    def __init__(self) -> None:
        super().__init__()
        self.documents: list[dict[str, Any]] = []

    def handle(self, request: Seen) -> Answer:
        basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        require(request.headers.get("authorization") == f"Basic {basic}", "communication user")
        if request.method == "GET":
            require(request.path == LOOKUP_PATH, "the item read API")
            conditions = dict(CLAUSE.findall(request.query["$filter"]))
            rows = [
                {k: d[k] for k in ("CompanyCode", "AccountingDocument", "FiscalYear")}
                for d in self.documents
                if all(d.get(k) == v for k, v in conditions.items())
            ]
            return Answer.of_json(200, {"d": {"results": rows}})
        require((request.method, request.path) == ("POST", POST_PATH), "the SOAP endpoint")
        require(request.headers.get("content-type", "").startswith("text/xml"), "text/xml")
        require(
            "JournalEntryCreateRequestConfirmation_In" in request.headers.get("soapaction", ""),
            "SOAPAction",
        )
        envelope = ET.fromstring(request.body)
        require(envelope.tag == f"{SOAP}Envelope", "a SOAP 1.1 envelope")
        bulk = envelope.find(f"{SOAP}Body/{SFIN}JournalEntryBulkCreateRequest")
        require(bulk is not None, "sfin:JournalEntryBulkCreateRequest in the body")
        assert bulk is not None
        for header in (
            bulk.find("MessageHeader"),
            bulk.find("JournalEntryCreateRequest/MessageHeader"),
        ):
            require(header is not None and bool(header.findtext("ID")), "message header ids")
            assert header is not None
            require(bool(header.findtext("CreationDateTime")), "message creation time")
        entry = bulk.find("JournalEntryCreateRequest/JournalEntry")
        assert entry is not None
        for name in (
            "OriginalReferenceDocumentType",
            "BusinessTransactionType",
            "AccountingDocumentType",
            "CompanyCode",
            "DocumentDate",
            "PostingDate",
            "DocumentReferenceID",
            "CreatedByUser",
        ):
            require(bool(entry.findtext(name)), f"{name} is required")
        require(len(entry.findtext("DocumentReferenceID") or "") <= 16, "XBLNR has 16 characters")
        items = entry.findall("Item")
        require(len(items) >= 2, "two items at least")
        total = Decimal(0)
        unknown = []
        for item in items:
            amount_element = item.find("AmountInTransactionCurrency")
            require(
                amount_element is not None and bool(amount_element.get("currencyCode")),
                "currencyCode",
            )
            assert amount_element is not None
            value = Decimal(amount_element.text or "")
            require(
                item.findtext("DebitCreditCode") == ("S" if value > 0 else "H"),
                "S/H agrees with the sign",
            )
            total += value
            if item.findtext("GLAccount") not in CHART:
                unknown.append(item.findtext("GLAccount"))
        require(total == 0, "amounts sum to zero per currency")
        if unknown:
            return Answer(
                200,
                confirmation(
                    " ",
                    "0000",
                    3,
                    [
                        ("609(RW)", "Error in document: BKPFF $ RSTEST"),
                        (
                            "102(F5)",
                            f"G/L account {unknown[0]} is not defined in chart of accounts YCOA",
                        ),
                    ],
                ),
                {"Content-Type": "text/xml"},
            )
        number = f"{100000123 + len(self.documents):010d}"
        self.documents.append(
            {
                "CompanyCode": entry.findtext("CompanyCode"),
                "AccountingDocument": number,
                "FiscalYear": "2026",
                "DocumentReferenceID": entry.findtext("DocumentReferenceID"),
                "items": [
                    (
                        i.findtext("GLAccount"),
                        Decimal(i.findtext("AmountInTransactionCurrency") or ""),
                        i.findtext("AccountAssignment/ProfitCenter"),
                    )
                    for i in items
                ],
            }
        )
        return Answer(
            200,
            confirmation(
                number, "2026", 1, [("605(RW)", f"Document posted successfully: BKPFF {number}")]
            ),
            {"Content-Type": "text/xml"},
        )


@pytest.fixture
def erp() -> Iterator[SapSoap]:
    server = SapSoap()
    yield from server.serve()
    assert server.violations == []


def credentials(erp: SapSoap, timeout: float = 5.0) -> Credentials:
    return Credentials(erp.url, {"user": USER, "password": PASSWORD}, timeout)


ACCOUNTS = ("11001000", "61810000", "41000000")
ADAPTER = SapS4(clock=lambda: datetime(2026, 11, 25, 18, 0, tzinfo=UTC))


def journal(accounts: tuple[str, str, str] = ACCOUNTS) -> Any:
    return sales_journal(
        legal_entity="1010", accounts=accounts, dimensions={"ProfitCenter": "YB101"}
    )


def test_the_entry_is_posted_and_its_document_triple_comes_back(erp: SapSoap) -> None:
    delivery = ADAPTER.deliver(journal(), credentials(erp))

    assert delivery.ok, delivery.error
    assert delivery.document_id == "1010/0100000123/2026"
    (document,) = erp.documents
    assert document["items"] == [
        ("0011001000", CLEARING, "YB101"),
        ("0061810000", FEES, "YB101"),
        ("0041000000", -SALES, "YB101"),
    ]
    assert len(document["DocumentReferenceID"]) == 16
    assert PASSWORD not in delivery.request
    assert "Authorization: Basic ***" in delivery.request
    assert "<CreationDateTime>2026-11-25T18:00:00Z</CreationDateTime>" in delivery.request


def test_an_error_in_the_log_is_a_refusal_even_on_http_200(erp: SapSoap) -> None:
    delivery = ADAPTER.deliver(journal(("11001000", "61810000", "99999999")), credentials(erp))

    assert (delivery.ok, delivery.retry) == (False, False)
    assert delivery.error == (
        "609(RW) Error in document: BKPFF $ RSTEST; "
        "102(F5) G/L account 0099999999 is not defined in chart of accounts YCOA"
    )
    assert erp.documents == []


def test_a_lost_confirmation_is_retried_and_the_redelivery_finds_the_document(erp: SapSoap) -> None:
    erp.stall("POST", POST_PATH, seconds=1.2)

    first = ADAPTER.deliver(journal(), credentials(erp, timeout=0.5))

    assert (first.ok, first.retry) == (False, True)
    assert "timed out" in first.error
    assert erp.stalled.wait(5)
    again = ADAPTER.deliver(journal(), credentials(erp))
    assert (again.ok, again.document_id) == (True, "1010/0100000123/2026")
    assert len(erp.documents) == 1
    assert len(erp.seen("POST")) == 1


def test_a_redelivery_posts_nothing_and_answers_the_same_document(erp: SapSoap) -> None:
    first = adapter_for("sap_s4").deliver(journal(), credentials(erp))
    again = adapter_for("sap_s4").deliver(journal(), credentials(erp))

    assert (first.document_id, again.document_id) == ("1010/0100000123/2026",) * 2
    assert len(erp.documents) == 1
    assert len(erp.seen("POST")) == 1


def test_the_same_key_sends_the_same_message_id(erp: SapSoap) -> None:
    ADAPTER.deliver(journal(("11001000", "61810000", "99999999")), credentials(erp))
    ADAPTER.deliver(journal(("11001000", "61810000", "99999999")), credentials(erp))

    ids = [
        ET.fromstring(r.body).findtext(
            f"{SOAP}Body/{SFIN}JournalEntryBulkCreateRequest/MessageHeader/ID"
        )
        for r in erp.seen("POST")
    ]
    assert len(ids) == 2
    assert ids[0] == ids[1]
    assert ids[0]
