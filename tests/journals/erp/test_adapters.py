"""What holds for every ERP adapter, whatever the target."""

from __future__ import annotations

import socket
from dataclasses import replace
from decimal import Decimal

import pytest

from journals.erp import ADAPTERS, adapter_for
from journals.erp.base import Credentials, ErpLine
from journals.erp.common import short_handle, to_json
from tests.journals.erp.sample import sales_journal

VALUES = {
    "token": "t0ken-secret",
    "user": "u",
    "password": "pw-secret",
    "uid": "2",
    "db": "acme",
    "journal_id": "7",
    "currency_ids": "USD:1",
    "data_access_set": "1",
}


def test_the_registry_names_the_five_erps() -> None:
    assert sorted(ADAPTERS) == ["dynamics365", "netsuite", "odoo", "oracle_erp", "sap_s4"]
    assert all(adapter_for(name).name == name for name in ADAPTERS)
    with pytest.raises(KeyError, match="no ERP adapter 'sage'"):
        adapter_for("sage")


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_an_unbalanced_journal_never_leaves(name: str) -> None:
    journal = sales_journal(legal_entity="1", accounts=("101", "612", "400"))
    short = ErpLine("400", Decimal(0), Decimal("1249.99"))
    unbalanced = replace(journal, lines=(*journal.lines[:2], short))

    delivery = adapter_for(name).deliver(unbalanced, Credentials("http://127.0.0.1:9", VALUES))

    assert (delivery.ok, delivery.retry) == (False, False)
    assert delivery.error == "debits and credits differ by 0.01 USD"
    assert delivery.request == ""


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_an_erp_that_cannot_be_reached_is_retried_later(name: str) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    journal = sales_journal(legal_entity="1", accounts=("101", "612", "400"))

    delivery = adapter_for(name).deliver(
        journal, Credentials(f"http://127.0.0.1:{port}", VALUES, 2.0)
    )

    assert (delivery.ok, delivery.retry) == (False, True)
    assert delivery.error.startswith("could not reach the ERP")
    assert "t0ken-secret" not in delivery.request
    assert "pw-secret" not in delivery.request


def test_a_base_url_that_is_not_http_is_refused_not_retried() -> None:
    journal = sales_journal(legal_entity="1", accounts=("101", "612", "400"))

    delivery = adapter_for("netsuite").deliver(journal, Credentials("file:///etc", VALUES))

    assert (delivery.ok, delivery.retry) == (False, False)
    assert "must be http(s)" in delivery.error


def test_json_amounts_keep_their_digits() -> None:
    assert to_json({"a": Decimal("1250.10"), "b": [Decimal("0.00"), 3, True, None, 'x"y']}) == (
        '{"a": 1250.10, "b": [0.00, 3, true, null, "x\\"y"]}'
    )


def test_a_long_key_gets_a_stable_short_handle() -> None:
    assert short_handle("je-1", 16) == "je-1"
    long_key = "je-2026-11-000123-post"
    assert short_handle(long_key, 16) == short_handle(long_key, 16)
    assert len(short_handle(long_key, 16)) == 16
    assert short_handle(long_key, 16) != short_handle(long_key + "x", 16)
