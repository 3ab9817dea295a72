"""The production settings module passes Django's deployment checks with no warnings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_production_settings_pass_check_deploy_with_no_warnings():
    # The browser tests' conftest allows async-unsafe ORM calls in the test process only.
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_SETTINGS_MODULE": "retailsync.settings_production",
        "SECRET_KEY": "x" * 30 + "-production-grade-secret-key-0123456789",
        "ALLOWED_HOSTS": "retailsync.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
