"""SAP S/4HANA Cloud: Journal Entry – Post, the synchronous SOAP service
`JournalEntryCreateRequestConfirmation_In` (communication scenario SAP_COM_0002).

SOAP is the only remote posting API (../shared/erp-formats.md §4); OData serves the read-back.
Business errors come back in a normal HTTP 200 confirmation (no document number, log severity
3), so the answer is read from the log, never from the HTTP status.

Idempotency: the synchronous call has no documented key. Our handle (the idempotency key, or a
16-character digest of it) is the document's `DocumentReferenceID` and
`OriginalReferenceDocument`, and before posting the adapter reads the journal entry items of
the company code with that reference (OData, credentials `lookup_path`, by default the
operational accounting document item API [unverified: that this API filters on
DocumentReferenceID]): a document found is the answer. The message ids are UUIDs derived from
the key, the same on every redelivery, which the asynchronous SOAP runtime uses to drop
duplicate messages.

Credentials: `user` and `password` (the communication user, HTTP Basic), optional `path`,
`lookup_path`, `document_type` ("SA"), `created_by`, `logical_system`. The legal entity is the
company code; line dimensions are `AccountAssignment` children (`CostCenter`, `ProfitCenter`...).
The document id is "company code/accounting document/fiscal year".
"""

from __future__ import annotations

import base64
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from .base import Credentials, Delivery, ErpJournal
from .common import journal_problem, odata_literal, setting, short_handle, signed
from .transport import Exchange, Reply

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SFIN_NS = "http://sap.com/xi/SAPSCORE/SFIN"
PATH = "/sap/bc/srt/scs_ext/sap/journalentrycreaterequestconfi"
LOOKUP_PATH = "/sap/opu/odata/sap/API_OPLACCTGDOCITEMCUBE_SRV/A_OperationalAcctgDocItemCube"
ACTION = (
    "http://sap.com/xi/SAPSCORE/SFIN/JournalEntryCreateRequestConfirmation_In/"
    "JournalEntryCreateRequestConfirmation_InRequest"
)
REFERENCE_SIZE = 16  # DocumentReferenceID (XBLNR)
HEADER_TEXT_SIZE = 25  # BKTXT
ITEM_TEXT_SIZE = 50  # SGTXT
ERROR_SEVERITY = 3


class SapS4:
    name = "sap_s4"

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        # The message's CreationDateTime; a test passes its own clock.
        self.clock = clock or (lambda: datetime.now(UTC))

    def deliver(self, journal: ErpJournal, credentials: Credentials) -> Delivery:
        exchange = Exchange(credentials)
        problem = journal_problem(journal)
        if problem:
            return exchange.refused(problem)
        handle = short_handle(journal.idempotency_key, REFERENCE_SIZE)
        user, password = credentials.values.get("user", ""), credentials.values.get("password", "")
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        auth = {"Authorization": f"Basic {basic}"}

        condition = (
            f"CompanyCode eq {odata_literal(journal.legal_entity)} "
            f"and DocumentReferenceID eq {odata_literal(handle)}"
        )
        query = {
            "$filter": condition,
            "$select": "CompanyCode,AccountingDocument,FiscalYear",
            "$top": "1",
            "$format": "json",
        }
        lookup = setting(credentials.values, "lookup_path", LOOKUP_PATH)
        reply = exchange.send(
            "GET",
            lookup + "?" + urlencode(query, quote_via=quote),
            headers={**auth, "Accept": "application/json"},
        )
        if not reply.ok:
            return exchange.failed(reply)
        existing = _found(reply)
        if existing:
            return exchange.done(existing)

        envelope = request_xml(journal, handle, credentials, self.clock())
        headers = {**auth, "Content-Type": "text/xml; charset=utf-8", "SOAPAction": ACTION}
        path = setting(credentials.values, "path", PATH)
        reply = exchange.send("POST", path, headers=headers, body=envelope)
        return _confirmation(exchange, reply)


def _found(reply: Reply) -> str:
    data: Any = reply.json()
    rows = data.get("d", {}).get("results") if isinstance(data, dict) else None
    if isinstance(rows, list) and rows and isinstance(rows[0], dict):
        row = rows[0]
        return f"{row.get('CompanyCode')}/{row.get('AccountingDocument')}/{row.get('FiscalYear')}"
    return ""


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = text
    return element


def request_xml(journal: ErpJournal, handle: str, credentials: Credentials, now: datetime) -> bytes:
    values = credentials.values
    envelope = ET.Element("soapenv:Envelope", {"xmlns:soapenv": SOAP_NS, "xmlns:sfin": SFIN_NS})
    ET.SubElement(envelope, "soapenv:Header")
    bulk = ET.SubElement(
        ET.SubElement(envelope, "soapenv:Body"), "sfin:JournalEntryBulkCreateRequest"
    )
    message_id = uuid.uuid5(uuid.NAMESPACE_URL, f"retailsync:journal:{journal.idempotency_key}")
    created = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    header = ET.SubElement(bulk, "MessageHeader")
    _text(header, "ID", message_id.hex)
    _text(header, "CreationDateTime", created)
    request = ET.SubElement(bulk, "JournalEntryCreateRequest")
    header = ET.SubElement(request, "MessageHeader")
    _text(header, "ID", uuid.uuid5(message_id, "1").hex)
    _text(header, "CreationDateTime", created)
    entry = ET.SubElement(request, "JournalEntry")
    _text(entry, "OriginalReferenceDocumentType", "BKPFF")
    _text(entry, "OriginalReferenceDocument", handle)
    if setting(values, "logical_system"):
        _text(entry, "OriginalReferenceDocumentLogicalSystem", setting(values, "logical_system"))
    _text(entry, "BusinessTransactionType", "RFBU")
    _text(entry, "AccountingDocumentType", setting(values, "document_type", "SA"))
    _text(entry, "DocumentReferenceID", handle)
    header_text = journal.description or journal.reference
    if journal.reversal_of:
        header_text = f"Rev. {journal.reversal_of}"
    _text(entry, "DocumentHeaderText", header_text[:HEADER_TEXT_SIZE])
    _text(entry, "CreatedByUser", setting(values, "created_by", values.get("user", "")))
    _text(entry, "CompanyCode", journal.legal_entity)
    _text(entry, "DocumentDate", journal.posting_date.isoformat())
    _text(entry, "PostingDate", journal.posting_date.isoformat())
    for line in journal.lines:
        item = ET.SubElement(entry, "Item")
        account = line.account.zfill(10) if line.account.isdigit() else line.account
        _text(item, "GLAccount", account)
        value = signed(line, journal.currency)
        _text(item, "AmountInTransactionCurrency", str(value)).set("currencyCode", journal.currency)
        _text(item, "DebitCreditCode", "S" if value > 0 else "H")
        text = line.description or journal.description
        if text:
            _text(item, "DocumentItemText", text[:ITEM_TEXT_SIZE])
        if line.dimensions:
            assignment = ET.SubElement(item, "AccountAssignment")
            for name, dimension in sorted(line.dimensions.items()):
                _text(assignment, name, dimension)
    xml: bytes = ET.tostring(envelope, encoding="utf-8", xml_declaration=True)
    return xml


def _parse(body: str) -> ET.Element | None:
    """The answer as XML; a document type or entity declaration is refused unread."""
    if "<!DOCTYPE" in body or "<!ENTITY" in body:
        return None
    try:
        return ET.fromstring(body)  # noqa: S314  # no DTDs reach the parser (checked above)
    except ET.ParseError:
        return None


def _local(element: ET.Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _first(root: ET.Element, name: str) -> str:
    for element in root.iter():
        if _local(element) == name:
            return (element.text or "").strip()
    return ""


def _confirmation(exchange: Exchange, reply: Reply) -> Delivery:
    root = _parse(reply.body) if reply.body else None
    if not reply.ok:
        fault = _first(root, "faultstring") if root is not None else ""
        return exchange.failed(reply, fault)
    if root is None:
        return exchange.failed(reply, "the answer is not a SOAP confirmation")
    document = _first(root, "AccountingDocument")
    severity = _first(root, "MaximumLogItemSeverityCode")
    notes = [
        f"{_first(item, 'TypeID')} {_first(item, 'Note')}".strip()
        for item in root.iter()
        if _local(item) == "Item" and _first(item, "Note")
    ]
    failed = not document.strip("0") or (severity.isdigit() and int(severity) >= ERROR_SEVERITY)
    if failed:
        return exchange.refused("; ".join(notes) or "SAP posted no document")
    company, year = _first(root, "CompanyCode"), _first(root, "FiscalYear")
    return exchange.done(f"{company}/{document}/{year}")
