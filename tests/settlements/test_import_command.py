"""`manage.py import_settlement` does what the upload does, and prints API.md's summary."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from .flows import FILES

pytestmark = pytest.mark.django_db


def test_import_prints_the_summary_and_a_second_run_adds_nothing(
    stripe_orders: Any, capsys: Any
) -> None:
    path = str(FILES / "flows/stripe_po_first.csv")
    call_command("import_settlement", path, "--provider", "stripe", "--channel", "web")
    first = json.loads(capsys.readouterr().out)
    assert {k: first[k] for k in ("status", "lines", "matched", "unmatched", "new_lines")} == {
        "status": "done",
        "lines": 4,
        "matched": 3,
        "unmatched": 1,
        "new_lines": 4,
    }
    assert first["batch_id"] == first["batches"][0]
    call_command("import_settlement", path, "--provider", "stripe")
    again = json.loads(capsys.readouterr().out)
    assert again["batch_id"] == first["batch_id"] and again["new_lines"] == 0


def test_a_refused_file_exits_with_its_reason(channel: Any, capsys: Any) -> None:
    with pytest.raises(CommandError, match=r"33\.70"):
        call_command(
            "import_settlement",
            str(FILES / "flows/amazon_v2_us_total_off.tsv"),
            "--provider",
            "amazon",
        )
    assert json.loads(capsys.readouterr().out)["status"] == "failed"


def test_a_bank_statement_with_a_channel_is_refused_before_anything_is_read(channel: Any) -> None:
    from settlements.models import Upload

    with pytest.raises(CommandError, match="belongs to no channel"):
        call_command(
            "import_settlement",
            str(FILES / "bank/camt053_v02_daily.xml"),
            "--provider",
            "camt053",
            "--channel",
            channel.channel.code,
        )
    assert not Upload.objects.exists()
