"""Odoo: a miscellaneous journal entry (`account.move`, `move_type` "entry") through JSON-RPC
(`/jsonrpc`, service `object`, `execute_kw`), created as a draft and then posted.

Idempotency: Odoo has no idempotency key. The move's `ref` is our idempotency key, and before
creating, the adapter searches for a move with that `ref` in the same journal and company: a
posted one is the answer, a draft one (its posting failed, or the answer to `action_post` was
lost) is posted now. Odoo's API runs each call in its own transaction, so the check and the
create are not atomic: the outbox delivers one entry at a time, which keeps them apart.

Credentials: `db`, `uid` (or `login`, to authenticate first), `password` (the user's API key),
`journal_id` (a journal of type "general"). The legal entity is the `company_id`. Accounts are
`account.account` ids; a line's dimension values are analytic account ids, each at 100 % of its
plan. In a currency other than `company_currency` (when given), lines carry `currency_id` (from
`currency_ids`, "EUR:1, USD:2") and a signed `amount_currency`, and Odoo converts at its own
rate [unverified: Odoo computing the balance from amount_currency on create].
"""

from __future__ import annotations

from itertools import count
from typing import Any

from .base import Credentials, Delivery, ErpJournal, ErpLine
from .common import Json, amount, journal_problem, pairs, setting, signed, to_json
from .transport import Exchange

ENDPOINT = "/jsonrpc"
# Exceptions raised for what the user sent: retrying the same journal gives the same answer.
REFUSALS = frozenset(
    {
        "odoo.exceptions.UserError",
        "odoo.exceptions.ValidationError",
        "odoo.exceptions.AccessError",
        "odoo.exceptions.AccessDenied",
        "odoo.exceptions.MissingError",
        "odoo.exceptions.RedirectWarning",
        "odoo.http.SessionExpiredException",
    }
)


class RpcError(Exception):
    def __init__(self, delivery: Delivery) -> None:
        super().__init__(delivery.error)
        self.delivery = delivery


class _Rpc:
    """JSON-RPC calls of one delivery; an Odoo error or a failed call raises RpcError."""

    def __init__(self, exchange: Exchange, credentials: Credentials) -> None:
        self.exchange = exchange
        self.values = credentials.values
        self.ids = count(1)
        self.uid: int = 0

    def call(self, service: str, method: str, args: list[Json]) -> Any:
        payload: Json = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": next(self.ids),
            "params": {"service": service, "method": method, "args": args},
        }
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        reply = self.exchange.send(
            "POST", ENDPOINT, headers=headers, body=to_json(payload).encode()
        )
        if not reply.ok:
            raise RpcError(self.exchange.failed(reply))
        data = reply.json()
        if not isinstance(data, dict):
            raise RpcError(self.exchange.failed(reply, "the answer is not JSON-RPC"))
        error = data.get("error")
        if isinstance(error, dict):
            found = error.get("data")
            detail: dict[str, Any] = found if isinstance(found, dict) else {}
            name = str(detail.get("name", ""))
            message = str(detail.get("message") or error.get("message") or "Odoo error")
            text = f"{name}: {message}" if name else message
            refused = name in REFUSALS or error.get("code") == 100  # 100: session expired
            raise RpcError(self.exchange.finish(ok=False, retry=not refused, error=text))
        return data.get("result")

    def login(self) -> None:
        uid = setting(self.values, "uid")
        if uid.isdigit():
            self.uid = int(uid)
            return
        found = self.call(
            "common",
            "authenticate",
            [self.values.get("db", ""), self.values.get("login", ""), self._password(), {}],
        )
        if not isinstance(found, int) or isinstance(found, bool) or found <= 0:
            raise RpcError(self.exchange.refused("Odoo refused the login (db, login, API key)"))
        self.uid = found

    def model(self, method: str, args: list[Json], kwargs: dict[str, Json] | None = None) -> Any:
        call_args: list[Json] = [
            self.values.get("db", ""),
            self.uid,
            self._password(),
            "account.move",
            method,
            args,
        ]
        if kwargs:
            call_args.append(kwargs)
        return self.call("object", "execute_kw", call_args)

    def _password(self) -> str:
        return self.values.get("password") or self.values.get("api_key", "")


class Odoo:
    name = "odoo"

    def deliver(self, journal: ErpJournal, credentials: Credentials) -> Delivery:
        exchange = Exchange(credentials)
        problem = journal_problem(journal) or _id_problem(journal, credentials)
        if problem:
            return exchange.refused(problem)
        rpc = _Rpc(exchange, credentials)
        try:
            rpc.login()
            domain: list[Json] = [
                ["ref", "=", journal.idempotency_key],
                ["journal_id", "=", int(credentials.values["journal_id"])],
                ["company_id", "=", int(journal.legal_entity)],
                ["move_type", "=", "entry"],
            ]
            found = rpc.model("search_read", [domain], {"fields": ["id", "state"], "limit": 1})
            if isinstance(found, list) and found:
                move_id, state = int(found[0]["id"]), str(found[0].get("state", ""))
                if state == "cancel":
                    return exchange.refused(f"Odoo move {move_id} with this reference is cancelled")
            else:
                created = rpc.model("create", [[_move(journal, credentials)]])
                move_id = int(created[0] if isinstance(created, list) else created)
                state = "draft"
            if state == "draft":
                rpc.model("action_post", [[move_id]])
        except RpcError as error:
            return error.delivery
        except (KeyError, IndexError, TypeError, ValueError) as error:
            return exchange.finish(ok=False, retry=True, error=f"unexpected answer: {error!r}")
        return exchange.done(str(move_id))


def _id_problem(journal: ErpJournal, credentials: Credentials) -> str:
    if not setting(credentials.values, "journal_id").isdigit():
        return "credentials 'journal_id' must be the id of an Odoo journal"
    if not journal.legal_entity.isdigit():
        return f"the legal entity {journal.legal_entity!r} is not an Odoo company id"
    for number, line in enumerate(journal.lines, start=1):
        ids = [line.account, *line.dimensions.values()]
        if not all(value.isdigit() for value in ids):
            return f"line {number}: the account and analytic accounts must be Odoo ids"
    foreign = _foreign(journal, credentials)
    if foreign and journal.currency not in pairs(setting(credentials.values, "currency_ids")):
        return f"no Odoo currency id for {journal.currency} (credentials 'currency_ids')"
    return ""


def _foreign(journal: ErpJournal, credentials: Credentials) -> bool:
    return setting(credentials.values, "company_currency", journal.currency) != journal.currency


def _move(journal: ErpJournal, credentials: Credentials) -> Json:
    foreign = _foreign(journal, credentials)
    currency_id = pairs(setting(credentials.values, "currency_ids")).get(journal.currency)
    lines: list[Json] = [
        [0, 0, _line(journal, line, foreign, currency_id)] for line in journal.lines
    ]
    move: dict[str, Json] = {
        "move_type": "entry",
        "journal_id": int(credentials.values["journal_id"]),
        "company_id": int(journal.legal_entity),
        "date": journal.posting_date.isoformat(),
        "ref": journal.idempotency_key,
        "narration": f"{journal.reference} {journal.description}".strip(),
        "line_ids": lines,
    }
    if journal.reversal_of.isdigit():
        move["reversed_entry_id"] = int(journal.reversal_of)
    return move


def _line(journal: ErpJournal, line: ErpLine, foreign: bool, currency_id: str | None) -> Json:
    values: dict[str, Json] = {
        "account_id": int(line.account),
        "name": line.description or journal.description,
    }
    if foreign:
        values["currency_id"] = int(currency_id or 0)
        values["amount_currency"] = signed(line, journal.currency)
    else:
        values["debit"] = amount(line.debit, journal.currency)
        values["credit"] = amount(line.credit, journal.currency)
    if line.dimensions:
        values["analytic_distribution"] = {value: 100 for value in line.dimensions.values()}
    return values
