"""The chart and the mapping rules are edited in the admin and travel as CSV (import-export);
entries are read-only there."""

from __future__ import annotations

import pytest
import tablib

from journals.admin import AccountResource, MappingRuleResource
from journals.chart import chart_install
from journals.models import Account, MappingRule
from tests.factories import LegalEntityFactory

pytestmark = pytest.mark.django_db


def test_mapping_rules_import_by_codes_each_account_within_its_own_legal_entity(books):
    LegalEntityFactory(code="DE01", currency="EUR")
    chart_install(legal_entity="DE01")  # account 1100 exists in both entities
    rules = tablib.Dataset(
        headers=[
            "legal_entity",
            "channel",
            "payment_method",
            "kind",
            "jurisdiction",
            "account",
            "dimensions",
        ]
    )
    rules.append(["DE01", "web", "paypal", "clearing", "", "1100", '{"cost_centre": "CC7"}'])
    rules.append(["US01", "", "", "tax_payable", "NY", "2200", "{}"])

    result = MappingRuleResource().import_data(rules, dry_run=False, raise_errors=True)

    assert not result.has_errors()
    paypal = MappingRule.objects.get(payment_method="paypal")
    assert (paypal.legal_entity.code, paypal.channel.code, paypal.account.legal_entity.code) == (
        "DE01",
        "web",
        "DE01",
    )
    assert paypal.dimensions == {"cost_centre": "CC7"}
    ny = MappingRule.objects.get(jurisdiction="NY")
    assert (ny.channel, ny.account.code) == (None, "2200")
    exported = MappingRuleResource().export()
    assert {"legal_entity", "account", "dimensions"} <= set(exported.headers)


def test_the_chart_exports_and_imports_again_unchanged(books):
    exported = AccountResource().export()
    before = Account.objects.count()
    result = AccountResource().import_data(exported, dry_run=False, raise_errors=True)
    assert not result.has_errors()
    assert Account.objects.count() == before == 20


def test_journal_entries_are_read_only_in_the_admin(books, client):
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("root", password="pw-for-tests-only")
    client.force_login(admin)
    assert client.get("/admin/journals/journalentry/").status_code == 200
    assert client.get("/admin/journals/journalentry/add/").status_code == 403
    assert client.get("/admin/journals/mappingrule/import/").status_code == 200


def test_install_chart_gives_a_legal_entity_its_starting_books_once(db):
    import io
    import json

    from django.core.management import call_command

    LegalEntityFactory(code="UK01", currency="GBP")
    out = io.StringIO()
    call_command("install_chart", "UK01", stdout=out)
    assert json.loads(out.getvalue()) == {"legal_entity": "UK01", "added": 40}
    out = io.StringIO()
    call_command("install_chart", "UK01", stdout=out)
    assert json.loads(out.getvalue())["added"] == 0
