"""Oracle Fusion journals as a GL_INTERFACE file through `importBulkData`, against a local ERP
Integrations service that unzips and checks the interface rows, "imports" them into a journal
batch named as Journal Import names it, and serves `journalBatches` for the lookup."""

from __future__ import annotations

import base64
import csv
import io
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from journals.erp import adapter_for
from journals.erp.base import Credentials
from journals.erp.oracle_erp import OracleErp
from tests.journals.erp.localerp import Answer, LocalErp, Seen, balanced, require
from tests.journals.erp.sample import CLEARING, FEES, SALES, sales_journal

USER, PASSWORD = "rs.integration", "fusion-pw-0c4e"
UPLOAD = "/fscmRestApi/resources/11.13.18.05/erpintegrations"
BATCHES = "/fscmRestApi/resources/11.13.18.05/journalBatches"
LEDGER = "300000046975971"
# Positions in the Journal Import template's GL_INTERFACE sheet, counted by hand:
# 8 header columns, SEGMENT1-30 (8-37), ENTERED_DR 38, ENTERED_CR 39, ACCOUNTED_DR/CR 40-41,
# REFERENCE1-10 (42-51), REFERENCE21-30 (52-61), STAT_AMOUNT and conversion (62-65), GROUP_ID 66.
STATUS, LEDGER_ID, DATE, SOURCE, CATEGORY, CURRENCY, CREATED, ACTUAL = range(8)
SEGMENT1, ENTERED_DR, ENTERED_CR = 8, 38, 39
REFERENCE1, REFERENCE4, REFERENCE6, REFERENCE10 = 42, 45, 47, 51
WIDTH = 67


class FusionErp(LocalErp):
    def __init__(self) -> None:
        super().__init__()
        self.uploads: list[list[list[str]]] = []
        self.batches: list[dict[str, Any]] = []

    def handle(self, request: Seen) -> Answer:
        basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        require(request.headers.get("authorization") == f"Basic {basic}", "basic auth")
        if request.method == "GET":
            require(request.path == BATCHES, "journalBatches")
            query = request.query["q"]
            require(query.startswith("BatchName LIKE '") and query.endswith("%'"), "a LIKE query")
            prefix = query.removeprefix("BatchName LIKE '").removesuffix("%'")
            items = [b for b in self.batches if b["BatchName"].startswith(prefix)]
            return Answer.of_json(200, {"items": items, "count": len(items), "hasMore": False})
        require((request.method, request.path) == ("POST", UPLOAD), "erpintegrations")
        body = request.json()
        require(body["OperationName"] == "importBulkData", "importBulkData")
        require(body["ContentType"] == "zip", "a zip")
        require(body["JobName"].endswith(",JournalImportLauncher"), "the Journal Import job")
        if body["DocumentAccount"] != "fin$/generalLedger$/import$":
            return Answer(
                400,
                f"The account {body['DocumentAccount']} is not valid for the import.",
                {"Content-Type": "text/plain"},
            )
        access_set, source, ledger, group, *flags = body["ParameterList"].split(",")
        require(
            access_set == "300000046975962"
            and len(flags) == 3
            and ledger == LEDGER
            and group == "ALL",
            "Import Journals parameters",
        )
        archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(body["DocumentContent"])))
        require(archive.namelist() == ["GlInterface.csv"], "the GL_INTERFACE file")
        rows = list(csv.reader(io.StringIO(archive.read("GlInterface.csv").decode())))
        for row in rows:
            require(len(row) == WIDTH, "the template's columns")
            require(row[STATUS] == "NEW" and row[ACTUAL] == "A", "new actual rows")
            require(row[LEDGER_ID] == ledger and row[SOURCE] == source, "ledger and source")
            require(bool(row[CATEGORY]) and bool(row[CURRENCY]), "category and currency")
            require(len(row[DATE]) == 10 and row[DATE][4] == "/", "YYYY/MM/DD dates")
            require(bool(row[ENTERED_DR]) != bool(row[ENTERED_CR]), "one of ENTERED_DR/CR")
        for journal_name in {row[REFERENCE4] for row in rows}:
            lines = [row for row in rows if row[REFERENCE4] == journal_name]
            require(
                balanced(
                    [Decimal(r[ENTERED_DR]) for r in lines if r[ENTERED_DR]],
                    [Decimal(r[ENTERED_CR]) for r in lines if r[ENTERED_CR]],
                ),
                "balanced",
            )
        self.uploads.append(rows)
        request_id = str(6122345 + len(self.uploads) - 1)
        # Journal Import (asynchronous in Oracle, at once here) names the batch after REFERENCE1.
        self.batches.append(
            {
                "JeBatchId": 1715986 + len(self.batches),
                "BatchName": f"{rows[0][REFERENCE1]} {source} {request_id} A",
                "Status": "U",
            }
        )
        return Answer.of_json(
            201,
            {
                "OperationName": "importBulkData",
                "DocumentId": None,
                "FileName": body["FileName"],
                "ReqstId": request_id,
            },
        )


@pytest.fixture
def erp() -> Iterator[FusionErp]:
    server = FusionErp()
    yield from server.serve()
    assert server.violations == []


def credentials(erp: FusionErp, timeout: float = 5.0, **values: str) -> Credentials:
    given = {
        "user": USER,
        "password": PASSWORD,
        "data_access_set": "300000046975962",
        "segments": "company,account,cost_centre",
        **values,
    }
    return Credentials(erp.url, given, timeout)


ADAPTER = OracleErp(clock=lambda: datetime(2026, 11, 26, 6, 0, tzinfo=UTC))


def journal() -> Any:
    return sales_journal(
        legal_entity=LEDGER,
        accounts=("11001", "61810", "41000"),
        dimensions={"company": "101", "cost_centre": "000"},
    )


def test_the_interface_file_is_uploaded_and_the_load_request_comes_back(erp: FusionErp) -> None:
    delivery = ADAPTER.deliver(journal(), credentials(erp))

    assert delivery.ok, delivery.error
    assert delivery.document_id == "6122345"
    (rows,) = erp.uploads
    assert [
        (r[SEGMENT1], r[SEGMENT1 + 1], r[SEGMENT1 + 2], r[ENTERED_DR], r[ENTERED_CR]) for r in rows
    ] == [
        ("101", "11001", "000", str(CLEARING), ""),
        ("101", "61810", "000", str(FEES), ""),
        ("101", "41000", "000", "", str(SALES)),
    ]
    assert {(r[DATE], r[CREATED], r[CURRENCY]) for r in rows} == {
        ("2026/11/25", "2026/11/26", "USD")
    }
    assert {r[REFERENCE6] for r in rows} == {"je-2026-11-000123-post"}
    assert [r[REFERENCE10] for r in rows] == ["Shopify clearing", "Shopify fees", "Shopify sales"]
    assert PASSWORD not in delivery.request
    assert "GlInterface.csv:\nNEW,300000046975971,2026/11/25" in delivery.request


def test_a_request_oracle_refuses_is_not_retried(erp: FusionErp) -> None:
    creds = credentials(erp, document_account="fin$/payables$/import$")

    delivery = ADAPTER.deliver(journal(), creds)

    assert (delivery.ok, delivery.retry) == (False, False)
    assert delivery.error == (
        "HTTP 400: The account fin$/payables$/import$ is not valid for the import."
    )
    assert erp.uploads == []


def test_a_lost_upload_answer_is_retried_and_the_redelivery_finds_the_batch(erp: FusionErp) -> None:
    erp.stall("POST", UPLOAD, seconds=1.2)

    first = ADAPTER.deliver(journal(), credentials(erp, timeout=0.5))

    assert (first.ok, first.retry) == (False, True)
    assert "timed out" in first.error
    assert erp.stalled.wait(5)
    again = ADAPTER.deliver(journal(), credentials(erp))
    assert (again.ok, again.document_id) == (True, "1715986")
    assert len(erp.uploads) == 1


def test_a_redelivery_uploads_nothing_and_answers_the_imported_batch(erp: FusionErp) -> None:
    first = adapter_for("oracle_erp").deliver(journal(), credentials(erp))
    again = adapter_for("oracle_erp").deliver(journal(), credentials(erp))

    assert (first.document_id, again.document_id) == ("6122345", "1715986")
    assert len(erp.uploads) == 1
    assert erp.batches[0]["BatchName"].endswith("Retailsync 6122345 A")


def test_another_key_whose_digest_differs_is_not_mistaken_for_it(erp: FusionErp) -> None:
    ADAPTER.deliver(journal(), credentials(erp))
    other = sales_journal(
        key="je-2026-11-000124-post",
        legal_entity=LEDGER,
        accounts=("11001", "61810", "41000"),
        dimensions={"company": "101", "cost_centre": "000"},
    )

    delivery = ADAPTER.deliver(other, credentials(erp))

    assert (delivery.ok, delivery.document_id) == (True, "6122346")
    assert len(erp.uploads) == 2
