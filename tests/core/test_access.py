"""Who may take over a channel in the admin: only the admin role changes channels, legal entities,
secrets and tokens; secrets are write-only; nothing with history is deleted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any

import pytest
from django.test import Client

from retailsync.core.models import AuditRecord, Channel, LegalEntity
from retailsync.core.services import user_create
from tests.core.test_auth import SHOPIFY_MINIMAL

pytestmark = pytest.mark.django_db

SECRET = "shpss_stored_7f3a9c"


def _signed_order(client: Client, code: str, secret: str, number: int = 1) -> Any:
    """A Shopify order webhook signed with `secret`; each number is another order."""
    order = {**SHOPIFY_MINIMAL, "id": 5512345678901234500 + number, "name": f"#{1200 + number}"}
    body = json.dumps(order).encode()
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    return client.post(
        f"/api/v1/channels/{code}/orders",
        body,
        content_type="application/json",
        HTTP_X_SHOPIFY_HMAC_SHA256=signature.decode(),
        HTTP_X_SHOPIFY_WEBHOOK_ID=f"wh-{number}",
    )


def _person(role: str, username: str) -> Client:
    user, _ = user_create(username=username, role=role)
    client = Client()
    client.force_login(user)
    return client


def _channel_form(channel: Channel, **changes: str) -> dict[str, Any]:
    return {
        "code": channel.code,
        "name": channel.name,
        "source": channel.source,
        "currency": channel.currency,
        "legal_entity": channel.legal_entity_id,
        "is_active": "on",
        "created_at_0": "2026-11-01",
        "created_at_1": "00:00:00",
        **changes,
    }


@pytest.fixture
def shop(make_channel: Any) -> Any:
    return make_channel("shopify", code="shop", webhook_secret=SECRET)


@pytest.mark.parametrize("role", ["finance", "operations"])
def test_finance_and_operations_neither_see_nor_replace_a_channel_secret(role, shop):
    person = _person(role, "pat")
    change_url = f"/admin/core/channel/{shop.channel.pk}/change/"

    page = person.get(change_url)
    tried = person.post(
        change_url,
        # The form field of old, and the write-only field: neither may be set by this role.
        _channel_form(shop.channel, webhook_secret="taken-over", new_webhook_secret="taken-over"),
    )

    assert page.status_code == 200  # they may look at the channel
    assert SECRET not in page.content.decode()
    assert 'name="new_webhook_secret"' not in page.content.decode()
    assert tried.status_code == 403
    assert Channel.objects.get(pk=shop.channel.pk).webhook_secret == SECRET
    assert _signed_order(Client(), "shop", "taken-over").status_code == 401
    assert _signed_order(Client(), "shop", SECRET).status_code == 201


@pytest.mark.parametrize("role", ["finance", "operations"])
def test_finance_and_operations_cannot_add_channels_legal_entities_or_tokens(role, db):
    person = _person(role, "pat")

    answers = [
        person.get(f"/admin/core/{model}/add/").status_code
        for model in ("channel", "legalentity", "apitoken")
    ]
    posted = person.post(
        "/admin/core/channel/add/",
        {
            "code": "mine",
            "source": "shopify",
            "currency": "USD",
            "legal_entity": LegalEntity.objects.create(code="US01", currency="USD").pk,
            "is_active": "on",
            "created_at_0": "2026-11-01",
            "created_at_1": "00:00:00",
            "webhook_secret": "mine",
            "new_webhook_secret": "mine",
        },
    )

    assert answers == [403, 403, 403]
    assert posted.status_code == 403
    assert not Channel.objects.filter(code="mine").exists()


def test_an_admin_adds_a_channel_with_a_secret_and_sees_its_token_once(db):
    ada = _person("admin", "ada")
    entity = LegalEntity.objects.create(code="US01", name="US", currency="USD")

    response = ada.post(
        "/admin/core/channel/add/",
        {
            "code": "newshop",
            "name": "New shop",
            "source": "shopify",
            "currency": "USD",
            "legal_entity": entity.pk,
            "is_active": "on",
            "created_at_0": "2026-11-01",
            "created_at_1": "00:00:00",
            "new_webhook_secret": "shpss_new_one",
        },
    )

    assert response.status_code == 200
    [token] = re.findall(r'<code class="issued-token">([^<]+)</code>', response.content.decode())
    assert Channel.objects.get(code="newshop").webhook_secret == "shpss_new_one"
    assert _signed_order(Client(), "newshop", "shpss_new_one").status_code == 201
    assert (
        Client()
        .post(
            "/api/v1/channels/newshop/orders",
            json.dumps({**SHOPIFY_MINIMAL, "id": 77, "name": "#77"}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {token}",
        )
        .status_code
        == 201
    )
    assert token not in ada.get("/admin/core/channel/").content.decode()


def test_an_admin_replaces_a_secret_blank_keeps_it_and_the_change_is_audited(shop):
    ada = _person("admin", "ada")
    change_url = f"/admin/core/channel/{shop.channel.pk}/change/"

    kept = ada.post(change_url, _channel_form(shop.channel, name="Shop", new_webhook_secret=""))
    stored_after_blank = Channel.objects.get(pk=shop.channel.pk).webhook_secret
    replaced = ada.post(
        change_url, _channel_form(shop.channel, name="Shop", new_webhook_secret="shpss_next")
    )

    assert (kept.status_code, replaced.status_code) == (302, 302)
    assert stored_after_blank == SECRET
    assert _signed_order(Client(), "shop", SECRET, 2).status_code == 401
    assert _signed_order(Client(), "shop", "shpss_next", 3).status_code == 201
    records = AuditRecord.objects.filter(
        actor_name="ada", action=f"change channel {shop.channel.pk}"
    ).order_by("pk")
    assert [r.outcome for r in records] == [
        "The channel “shop” was changed successfully.",
        "channel shop changed: webhook secret replaced",
    ]
    everything_audited = json.dumps(
        [[r.action, r.outcome, r.summary] for r in AuditRecord.objects.all()]
    )
    assert SECRET not in everything_audited and "shpss_next" not in everything_audited


def test_the_secret_appears_on_no_admin_page(shop, client):
    ada = _person("admin", "ada")
    pk = shop.channel.pk
    # Audited edits to show (`webhook_secret` is the form field of old, where it was shown).
    ada.post(
        f"/admin/core/channel/{pk}/change/",
        _channel_form(shop.channel, name="Shop renamed", webhook_secret=SECRET),
    )
    token_pk = shop.channel.tokens.get().pk
    pages = [
        "/admin/",
        "/admin/core/channel/",
        f"/admin/core/channel/{pk}/change/",
        f"/admin/core/channel/{pk}/history/",
        "/admin/core/apitoken/",
        f"/admin/core/apitoken/{token_pk}/change/",
        "/admin/core/auditrecord/",
        *[
            f"/admin/core/auditrecord/{record}/change/"
            for record in AuditRecord.objects.values_list("pk", flat=True)
        ],
    ]

    answers = {page: ada.get(page) for page in pages}

    assert {page: r.status_code for page, r in answers.items()} == dict.fromkeys(pages, 200)
    assert [page for page, r in answers.items() if SECRET in r.content.decode()] == []
    assert shop.token not in json.dumps([r.content.decode() for r in answers.values()])


@pytest.mark.parametrize("model", ["channel", "legalentity", "apitoken"])
def test_nobody_deletes_channels_legal_entities_or_tokens(model, shop):
    ada = _person("admin", "ada")
    pk = {
        "channel": shop.channel.pk,
        "legalentity": shop.channel.legal_entity_id,
        "apitoken": shop.channel.tokens.get().pk,
    }[model]

    listing = ada.get(f"/admin/core/{model}/").content.decode()
    delete_page = ada.get(f"/admin/core/{model}/{pk}/delete/")
    delete_post = ada.post(f"/admin/core/{model}/{pk}/delete/", {"post": "yes"})

    assert 'value="delete_selected"' not in listing
    assert (delete_page.status_code, delete_post.status_code) == (403, 403)
    assert Channel.objects.filter(pk=shop.channel.pk).exists()
    assert shop.channel.tokens.count() == 1


def test_the_users_list_shows_each_persons_role(db):
    ada = _person("admin", "ada")
    user_create(username="fiona", role="finance")
    user_create(username="otto", role="operations")

    page = ada.get("/admin/auth/user/").content.decode()

    roles = dict(
        re.findall(
            r'<th class="field-username"><a [^>]*>([^<]+)</a></th><td class="field-role">([^<]+)<',
            page,
        )
    )
    assert roles == {"ada": "admin", "fiona": "finance", "otto": "operations"}


def test_the_role_groups_hold_no_add_change_or_delete_on_credentials(db):
    from django.contrib.auth.models import Group

    user_create(username="ada", role="admin")  # makes sure the groups exist as roles.py says
    models = ["channel", "legalentity", "apitoken"]

    def held(role: str) -> set[str]:
        return set(
            Group.objects.get(name=role)
            .permissions.filter(content_type__app_label="core", content_type__model__in=models)
            .values_list("codename", flat=True)
        )

    views = {f"view_{m}" for m in models}
    assert held("finance") == held("operations") == views
    assert held("admin") == views | {f"{a}_{m}" for a in ("add", "change") for m in models}
