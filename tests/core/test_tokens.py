"""Channel tokens: revoked in the admin or in another process and refused at once, rotated with a
window in which both work, expired when that window ends."""

from __future__ import annotations

import getpass
import io
import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from retailsync.core.credentials import Actor, channel_tokens_rotate
from retailsync.core.models import ApiToken, AuditRecord
from retailsync.core.services import user_create
from tests.orders.payloads import canonical_order

ROOT = Path(__file__).resolve().parents[2]


def _post(token: str, number: int, code: str = "web") -> Any:
    return Client().post(
        f"/api/v1/channels/{code}/orders",
        json.dumps(canonical_order(external_id=f"T-{number}")),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token}",
    )


def _in_another_process(code: str) -> None:
    """Run Python in a separate Django process on the test database, as a second web process or
    an operator's shell would."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DATABASE_URL": url,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


REVOKE = (
    "from django.utils import timezone\n"
    "from retailsync.core.credentials import Actor, tokens_revoke\n"
    "from retailsync.core.models import ApiToken\n"
    "tokens_revoke(tokens=ApiToken.objects.filter(channel__code='web'),"
    " actor=Actor.of_command('shell'), now=timezone.now())\n"
)
# Not through any service: a plain UPDATE from a shell must be honoured as well.
DISABLE = (
    "from retailsync.core.models import Channel\n"
    "Channel.objects.filter(code='web').update(is_active=False)\n"
)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("change", "status", "message"),
    [(REVOKE, 401, "Unknown or revoked token."), (DISABLE, 403, "This channel is disabled.")],
    ids=["token revoked", "channel disabled"],
)
def test_a_change_made_in_another_process_is_honoured_by_the_next_request(
    change, status, message, channel
):
    before = _post(channel.token, 1)  # this process has now verified, and remembers, the token

    _in_another_process(change)
    after = _post(channel.token, 2)

    assert before.status_code == 201
    assert after.status_code == status
    assert after.json() == {"errors": [{"field": "", "message": message}]}


@pytest.mark.django_db
def test_an_admin_revokes_tokens_in_the_admin_and_they_stop_at_once(channel):
    ada, _ = user_create(username="ada", role="admin")
    admin = Client()
    admin.force_login(ada)
    assert _post(channel.token, 1).status_code == 201
    token = ApiToken.objects.get(channel=channel.channel)

    response = admin.post(
        "/admin/core/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}
    )

    assert response.status_code == 302
    assert _post(channel.token, 2).status_code == 401
    record = AuditRecord.objects.get()
    assert (record.actor_name, record.via, record.result) == ("ada", "admin", "done")
    assert record.action == "revoke on api tokens (1 selected)"
    assert record.outcome == f"revoked {token.prefix}… (web)"


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["finance", "operations"])
def test_finance_and_operations_can_neither_revoke_nor_rotate(role, channel):
    person, _ = user_create(username="pat", role=role)
    client = Client()
    client.force_login(person)
    token = ApiToken.objects.get(channel=channel.channel)

    tokens_page = client.get("/admin/core/apitoken/").content.decode()
    channels_page = client.get("/admin/core/channel/").content.decode()
    client.post("/admin/core/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    client.post(
        "/admin/core/channel/", {"action": "rotate_token", "_selected_action": [channel.channel.pk]}
    )

    assert 'value="revoke"' not in tokens_page
    assert 'value="rotate_token"' not in channels_page
    assert ApiToken.objects.filter(channel=channel.channel).count() == 1
    assert _post(channel.token, 1).status_code == 201


@pytest.mark.django_db
def test_rotate_token_prints_a_new_token_and_both_work_until_the_old_one_expires(channel):
    out = io.StringIO()

    call_command("rotate_token", "web", stdout=out)

    printed = json.loads(out.getvalue())
    assert printed["code"] == "web"
    assert _post(printed["token"], 1).status_code == 201
    assert _post(channel.token, 2).status_code == 201
    old = ApiToken.objects.get(prefix=channel.token[:8])
    assert old.expires_at is not None
    assert abs(old.expires_at - (timezone.now() + timedelta(minutes=60))) < timedelta(minutes=1)
    assert printed["old_token_expires_at"] == old.expires_at.isoformat()
    record = AuditRecord.objects.get()
    assert (record.actor, record.actor_name, record.via) == (None, getpass.getuser(), "cli")
    assert (record.action, record.path) == (
        "rotate token web",
        "manage.py rotate_token web --expire-old-in 60",
    )
    assert record.outcome == (
        f"new token {printed['token'][:8]}… for web, "
        f"the old one works until {old.expires_at.isoformat()}"
    )
    assert record.summary["changed"]["web"]["issued"] == printed["token"][:8]


@pytest.mark.django_db
def test_the_old_token_is_refused_once_its_rotation_window_has_passed(channel):
    an_hour_ago = timezone.now() - timedelta(minutes=61)

    [rotation] = channel_tokens_rotate(
        codes=["web"],
        expire_old_in=timedelta(minutes=60),
        actor=Actor.of_command("test"),
        now=an_hour_ago,
    )

    old = _post(channel.token, 1)
    assert old.status_code == 401
    assert re.fullmatch(
        r"This token expired at \S+; use the channel's new token\.",
        old.json()["errors"][0]["message"],
    )
    assert _post(rotation.token, 2).status_code == 201
    # The command's audit record is stamped with the rotation's own time, as the token is.
    record = AuditRecord.objects.get(via="cli")
    new = ApiToken.objects.get(prefix=rotation.token[:8])
    assert (record.at, new.created_at) == (an_hour_ago, an_hour_ago)


@pytest.mark.django_db
def test_a_second_rotation_revokes_the_oldest_token_at_most_two_live(channel):
    first, second = io.StringIO(), io.StringIO()

    call_command("rotate_token", "web", "--expire-old-in", "30", stdout=first)
    call_command("rotate_token", "web", stdout=second)

    middle, newest = json.loads(first.getvalue())["token"], json.loads(second.getvalue())["token"]
    answers = [_post(t, n).status_code for n, t in enumerate([channel.token, middle, newest])]
    assert answers == [401, 201, 201]
    assert json.loads(second.getvalue())["revoked"] == [channel.token[:8]]
    live = [
        t for t in ApiToken.objects.filter(channel=channel.channel) if t.is_live(timezone.now())
    ]
    assert len(live) == 2


@pytest.mark.django_db
def test_rotate_token_refuses_an_unknown_channel_or_a_negative_window(channel):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no channel 'nope'"):
        call_command("rotate_token", "nope", stdout=io.StringIO())
    with pytest.raises(CommandError, match="must not be negative"):
        call_command("rotate_token", "web", "--expire-old-in", "-5", stdout=io.StringIO())
    assert ApiToken.objects.filter(channel=channel.channel).count() == 1


@pytest.mark.django_db
def test_an_admin_rotates_a_channels_token_and_sees_the_new_one_once(channel):
    ada, _ = user_create(username="ada", role="admin")
    admin = Client()
    admin.force_login(ada)

    response = admin.post(
        "/admin/core/channel/", {"action": "rotate_token", "_selected_action": [channel.channel.pk]}
    )

    assert response.status_code == 200
    [token] = re.findall(r'<code class="issued-token">([^<]+)</code>', response.content.decode())
    assert (_post(token, 1).status_code, _post(channel.token, 2).status_code) == (201, 201)
    assert token not in admin.get("/admin/core/channel/").content.decode()
    record = AuditRecord.objects.get()
    assert (record.actor, record.via) == (ada, "admin")
    assert record.action == "rotate_token on channels (1 selected)"
    assert record.outcome.startswith(f"new token {token[:8]}… for web, the old one works until")
    assert token not in record.outcome
