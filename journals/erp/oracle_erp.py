"""Oracle Fusion Cloud ERP: journals as a GL_INTERFACE file (FBDI), uploaded through the ERP
Integrations service (`importBulkData`), which loads it and runs Journal Import.

Oracle has no REST call that creates a journal (../shared/erp-formats.md §5). The upload answers
with the ESS request id of the load job; the import runs after that, asynchronously, and rows it
rejects stay in GL_INTERFACE with an error status, to be seen in the ESS job's report.

Idempotency: none built in. The batch name (REFERENCE1) starts with a fixed-length digest of our
idempotency key, REFERENCE6 (the journal reference) is the key itself, and before uploading the
adapter reads the journal batches (`journalBatches`, whose names Journal Import builds from
REFERENCE1 onward [unverified: that naming, and the `q` LIKE syntax]) for one whose name
starts with that digest: found, its JeBatchId is the answer and nothing is uploaded. So a redelivery after the import never posts twice; the first
upload answers with the load request id, a redelivery with the imported batch's id. What the
lookup cannot see is an upload whose import is still running: the outbox's backoff (minutes)
is what keeps a redelivery behind the import.

Credentials: `user` and `password` (HTTP Basic), `data_access_set`, optional `source`
("Retailsync"), `category` ("Miscellaneous"), `segments` (which value fills SEGMENT1, 2...:
"account" or a dimension name, e.g. "company,cost_centre,account"; default "account"),
`document_account`, `job_name`. The legal entity is the ledger id.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote, urlencode

from .base import Credentials, Delivery, ErpJournal
from .common import Json, amount, journal_problem, setting, to_json
from .transport import Exchange

UPLOAD = "/fscmRestApi/resources/11.13.18.05/erpintegrations"
BATCHES = "/fscmRestApi/resources/11.13.18.05/journalBatches"
DOCUMENT_ACCOUNT = "fin$/generalLedger$/import$"
JOB_NAME = "/oracle/apps/ess/financials/generalLedger/programs/common,JournalImportLauncher"
CSV_NAME = "GlInterface.csv"
SEGMENTS = 30
# The Journal Import template's GL_INTERFACE columns in order, up to the group id (the later
# columns stay empty and may be left off).
COLUMNS = (
    "STATUS",
    "LEDGER_ID",
    "ACCOUNTING_DATE",
    "USER_JE_SOURCE_NAME",
    "USER_JE_CATEGORY_NAME",
    "CURRENCY_CODE",
    "DATE_CREATED",
    "ACTUAL_FLAG",
    *(f"SEGMENT{n}" for n in range(1, SEGMENTS + 1)),
    "ENTERED_DR",
    "ENTERED_CR",
    "ACCOUNTED_DR",
    "ACCOUNTED_CR",
    *(f"REFERENCE{n}" for n in range(1, 11)),
    *(f"REFERENCE{n}" for n in range(21, 31)),
    "STAT_AMOUNT",
    "USER_CURRENCY_CONVERSION_TYPE",
    "CURRENCY_CONVERSION_DATE",
    "CURRENCY_CONVERSION_RATE",
    "GROUP_ID",
)
NAME_SIZE = 100


def batch_prefix(key: str) -> str:
    """The start of every batch name made from this key: fixed length, so no key's prefix is
    the start of another's."""
    return "RS-" + hashlib.sha256(key.encode()).hexdigest()[:20].upper()


class OracleErp:
    name = "oracle_erp"

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        # DATE_CREATED of the interface rows; a test passes its own clock.
        self.clock = clock or (lambda: datetime.now(UTC))

    def deliver(self, journal: ErpJournal, credentials: Credentials) -> Delivery:
        exchange = Exchange(credentials)
        layout = _layout(credentials)
        problem = journal_problem(journal) or _layout_problem(journal, layout)
        if not problem and not setting(credentials.values, "data_access_set"):
            problem = "credentials 'data_access_set' is needed to run Journal Import"
        if problem:
            return exchange.refused(problem)
        user, password = credentials.values.get("user", ""), credentials.values.get("password", "")
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers = {"Authorization": f"Basic {basic}", "Accept": "application/json"}

        prefix = batch_prefix(journal.idempotency_key)
        query = {
            "q": f"BatchName LIKE '{prefix}%'",
            "fields": "JeBatchId,BatchName,Status",
            "onlyData": "true",
        }
        reply = exchange.send(
            "GET", BATCHES + "?" + urlencode(query, quote_via=quote), headers=headers
        )
        if not reply.ok:
            return exchange.failed(reply)
        data: Any = reply.json()
        items = data.get("items") if isinstance(data, dict) else None
        if isinstance(items, list) and items and isinstance(items[0], dict):
            return exchange.done(str(items[0].get("JeBatchId", "")))

        rows = interface_csv(journal, layout, credentials, self.clock().date())
        body = upload(journal, rows, credentials)
        shown = to_json({**body, "DocumentContent": f"<zip of {CSV_NAME}, below>"})
        reply = exchange.send(
            "POST",
            UPLOAD,
            headers={**headers, "Content-Type": "application/json"},
            body=to_json(body).encode(),
            shown=f"{shown}\n\n{CSV_NAME}:\n{rows}",
        )
        if not reply.ok:
            return exchange.failed(reply)
        answer: Any = reply.json()
        request_id = str(answer.get("ReqstId") or "") if isinstance(answer, dict) else ""
        if not request_id:
            return exchange.failed(reply, "the upload was answered without a ReqstId")
        return exchange.done(request_id)


def _layout(credentials: Credentials) -> list[str]:
    names = setting(credentials.values, "segments", "account")
    return [name.strip() for name in names.split(",") if name.strip()]


def _layout_problem(journal: ErpJournal, layout: list[str]) -> str:
    if "account" not in layout or len(layout) > SEGMENTS:
        return "credentials 'segments' must name 'account' and at most 30 segments"
    for number, line in enumerate(journal.lines, start=1):
        unplaced = sorted(set(line.dimensions) - set(layout))
        if unplaced:
            return f"line {number}: dimension {', '.join(unplaced)} has no segment (credentials 'segments')"
    return ""


def interface_csv(
    journal: ErpJournal, layout: list[str], credentials: Credentials, created: date
) -> str:
    """The GL_INTERFACE rows of the journal, one per line, in the template's column order."""
    values = credentials.values
    prefix = batch_prefix(journal.idempotency_key)
    description = journal.description
    if journal.reversal_of:
        description = f"{description} (reverses {journal.reversal_of})"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for line in journal.lines:
        row = dict.fromkeys(COLUMNS, "")
        row |= {
            "STATUS": "NEW",
            "LEDGER_ID": journal.legal_entity,
            "ACCOUNTING_DATE": journal.posting_date.strftime("%Y/%m/%d"),
            "USER_JE_SOURCE_NAME": setting(values, "source", "Retailsync"),
            "USER_JE_CATEGORY_NAME": setting(values, "category", "Miscellaneous"),
            "CURRENCY_CODE": journal.currency,
            "DATE_CREATED": created.strftime("%Y/%m/%d"),
            "ACTUAL_FLAG": "A",
            "REFERENCE1": f"{prefix} {journal.reference}"[:NAME_SIZE],
            "REFERENCE2": description[:240],
            "REFERENCE4": journal.reference[:NAME_SIZE],
            "REFERENCE5": description[:240],
            "REFERENCE6": journal.idempotency_key,
            "REFERENCE10": (line.description or journal.description)[:240],
        }
        for number, name in enumerate(layout, start=1):
            value = line.account if name == "account" else line.dimensions.get(name, "")
            row[f"SEGMENT{number}"] = value
        if line.debit:
            row["ENTERED_DR"] = str(amount(line.debit, journal.currency))
        else:
            row["ENTERED_CR"] = str(amount(line.credit, journal.currency))
        writer.writerow([row[column] for column in COLUMNS])
    return out.getvalue()


def upload(journal: ErpJournal, rows: str, credentials: Credentials) -> dict[str, Json]:
    """The `importBulkData` request: the CSV zipped, base64, and what Journal Import needs."""
    values = credentials.values
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(CSV_NAME, rows)
    parameters = ",".join(
        [
            setting(values, "data_access_set"),
            setting(values, "source", "Retailsync"),
            journal.legal_entity,
            "ALL",  # group id: every row of this source and ledger waiting in GL_INTERFACE
            "N",  # post errors to suspense
            "N",  # create summary journals
            "N",  # import descriptive flexfields
        ]
    )
    return {
        "OperationName": "importBulkData",
        "DocumentContent": base64.b64encode(buffer.getvalue()).decode(),
        "ContentType": "zip",
        "FileName": f"{batch_prefix(journal.idempotency_key).lower()}.zip",
        "DocumentAccount": setting(values, "document_account", DOCUMENT_ACCOUNT),
        "JobName": setting(values, "job_name", JOB_NAME),
        "ParameterList": parameters,
        "CallbackURL": "#NULL",
        "NotificationCode": "10",
    }
