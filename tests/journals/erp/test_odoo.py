"""Odoo `account.move` through JSON-RPC against a local `/jsonrpc` that checks `execute_kw`
calls as Odoo documents them and answers as Odoo does (errors inside an HTTP 200)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from journals.erp import adapter_for
from journals.erp.base import Credentials
from tests.journals.erp.localerp import Answer, LocalErp, Seen, require
from tests.journals.erp.sample import CLEARING, FEES, SALES, sales_journal

DB, LOGIN, API_KEY, UID = "acme", "bot@acme.example", "odoo-api-key-93be11", 2


class OdooRpc(LocalErp):
    def __init__(self) -> None:
        super().__init__()
        self.moves: dict[int, dict[str, Any]] = {}
        self.lock_date = date(2026, 10, 31)

    def handle(self, request: Seen) -> Answer:
        require((request.method, request.path) == ("POST", "/jsonrpc"), "JSON-RPC endpoint")
        call = request.json()
        require(call.get("jsonrpc") == "2.0" and call.get("method") == "call", "JSON-RPC 2.0 call")
        params = call["params"]
        if (params["service"], params["method"]) == ("common", "authenticate"):
            db, login, key, _ = params["args"]
            uid = UID if (db, login, key) == (DB, LOGIN, API_KEY) else False
            return Answer.of_json(200, {"jsonrpc": "2.0", "id": call["id"], "result": uid})
        require((params["service"], params["method"]) == ("object", "execute_kw"), "execute_kw")
        db, uid, key, model, method, args, *kwargs = params["args"]
        require((db, uid, key) == (DB, UID, API_KEY), "db, uid and API key on every call")
        require(model == "account.move", "account.move")
        try:
            result = getattr(self, f"_{method}")(args, *(kwargs or [{}]))
        except UserError as error:
            data = {
                "name": "odoo.exceptions.UserError",
                "message": str(error),
                "arguments": [str(error)],
                "context": {},
                "debug": "Traceback ...",
            }
            answer = {"code": 200, "message": "Odoo Server Error", "data": data}
            return Answer.of_json(200, {"jsonrpc": "2.0", "id": call["id"], "error": answer})
        return Answer.of_json(200, {"jsonrpc": "2.0", "id": call["id"], "result": result})

    def _search_read(self, args: list[Any], kwargs: dict[str, Any]) -> list[dict[str, Any]]:
        (domain,) = args
        found = [
            {"id": move_id, "state": move["state"]}
            for move_id, move in self.moves.items()
            if all(move[field] == value for field, op, value in domain if op == "=")
        ]
        return found[: kwargs.get("limit") or None]

    def _create(self, args: list[Any], kwargs: dict[str, Any]) -> list[int]:
        (vals_list,) = args
        ids = []
        for vals in vals_list:
            require(vals["move_type"] == "entry", "a miscellaneous entry")
            require(isinstance(vals["journal_id"], int), "journal_id is an id")
            lines = []
            for command in vals["line_ids"]:
                require(command[:2] == [0, 0], "(0, 0, vals) creates a line")
                line = command[2]
                require(isinstance(line["account_id"], int), "account_id is an id")
                debit, credit = Decimal(line["debit"]), Decimal(line["credit"])
                require(debit * credit == 0, "credit * debit = 0")
                lines.append({**line, "debit": debit, "credit": credit})
            total_debit = sum((line["debit"] for line in lines), Decimal(0))
            total_credit = sum((line["credit"] for line in lines), Decimal(0))
            if total_debit != total_credit:
                raise UserError(
                    f"The move (draft) is not balanced. The total of debits equals "
                    f"{total_debit} and the total of credits equals {total_credit}."
                )
            move_id = 42 + len(self.moves)
            self.moves[move_id] = {**vals, "line_ids": lines, "state": "draft"}
            ids.append(move_id)
        return ids

    def _action_post(self, args: list[Any], kwargs: dict[str, Any]) -> bool:
        (ids,) = args
        for move_id in ids:
            move = self.moves[move_id]
            if date.fromisoformat(move["date"]) <= self.lock_date:
                raise UserError(
                    "You cannot add/modify entries prior to and inclusive of the lock date "
                    f"{self.lock_date.isoformat()}."
                )
            move["state"] = "posted"
        return True


class UserError(Exception):
    pass


@pytest.fixture
def erp() -> Iterator[OdooRpc]:
    server = OdooRpc()
    yield from server.serve()
    assert server.violations == []


def credentials(erp: OdooRpc, timeout: float = 5.0, **values: str) -> Credentials:
    given = {"db": DB, "uid": str(UID), "password": API_KEY, "journal_id": "7", **values}
    return Credentials(base_url=erp.url, values=given, timeout=timeout)


def journal() -> Any:
    return sales_journal(
        legal_entity="1", accounts=("101", "612", "400"), dimensions={"store": "12"}
    )


def test_the_move_is_created_and_posted(erp: OdooRpc) -> None:
    delivery = adapter_for("odoo").deliver(journal(), credentials(erp))

    assert delivery.ok, delivery.error
    assert delivery.document_id == "42"
    move = erp.moves[42]
    assert move["state"] == "posted"
    assert (move["journal_id"], move["company_id"], move["date"]) == (7, 1, "2026-11-25")
    assert move["ref"] == "je-2026-11-000123-post"
    assert [(li["account_id"], li["debit"], li["credit"]) for li in move["line_ids"]] == [
        (101, CLEARING, 0),
        (612, FEES, 0),
        (400, 0, SALES),
    ]
    assert {str(li["analytic_distribution"]) for li in move["line_ids"]} == {"{'12': 100}"}
    assert API_KEY not in delivery.request
    assert '"acme", 2, "***", "account.move", "create"' in delivery.request


def test_a_login_without_a_uid_authenticates_first(erp: OdooRpc) -> None:
    values = {"db": DB, "login": LOGIN, "password": API_KEY, "journal_id": "7"}
    creds = Credentials(base_url=erp.url, values=values, timeout=5.0)

    delivery = adapter_for("odoo").deliver(journal(), creds)

    assert (delivery.ok, delivery.document_id) == (True, "42")
    assert erp.requests[0].json()["params"]["method"] == "authenticate"


def test_a_locked_period_is_refused_and_the_redelivery_posts_the_same_draft(erp: OdooRpc) -> None:
    erp.lock_date = date(2026, 11, 30)

    refused = adapter_for("odoo").deliver(journal(), credentials(erp))

    assert (refused.ok, refused.retry) == (False, False)
    assert refused.error == (
        "odoo.exceptions.UserError: You cannot add/modify entries prior to and inclusive of "
        "the lock date 2026-11-30."
    )
    assert erp.moves[42]["state"] == "draft"

    erp.lock_date = date(2026, 10, 31)  # finance reopened the period
    again = adapter_for("odoo").deliver(journal(), credentials(erp))
    assert (again.ok, again.document_id) == (True, "42")
    assert list(erp.moves) == [42]
    assert erp.moves[42]["state"] == "posted"


def test_a_lost_answer_to_create_is_retried_and_the_redelivery_finds_the_move(
    erp: OdooRpc,
) -> None:
    erp.stall("POST", "/jsonrpc", seconds=1.2, contains=b'"create"')

    first = adapter_for("odoo").deliver(journal(), credentials(erp, timeout=0.5))

    assert (first.ok, first.retry) == (False, True)
    assert "timed out" in first.error
    assert erp.stalled.wait(5)
    again = adapter_for("odoo").deliver(journal(), credentials(erp))
    assert (again.ok, again.document_id) == (True, "42")
    assert list(erp.moves) == [42]
    assert erp.moves[42]["state"] == "posted"


def test_a_redelivery_of_a_posted_move_creates_nothing(erp: OdooRpc) -> None:
    first = adapter_for("odoo").deliver(journal(), credentials(erp))
    calls = len(erp.requests)

    again = adapter_for("odoo").deliver(journal(), credentials(erp))

    assert (first.document_id, again.document_id) == ("42", "42")
    assert list(erp.moves) == [42]
    methods = [r.json()["params"]["args"][4] for r in erp.requests[calls:]]
    assert methods == ["search_read"]
