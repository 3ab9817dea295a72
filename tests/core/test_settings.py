"""What the settings let a deployment do: start only with a secret key outside DEBUG, pass
Django's deployment checks in production, and show the API's schema and docs (from our own
static files) to strangers only where that is chosen."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.test import Client, override_settings

ROOT = Path(__file__).resolve().parents[2]
KEY = "x" * 30 + "-production-grade-secret-key-0123456789"
REFUSAL = "ImproperlyConfigured: SECRET_KEY is not set. Outside DEBUG retailsync refuses to start"


def run(*args: str, **env: str | None) -> subprocess.CompletedProcess[str]:
    """A fresh Python with the given environment on top of this one's (None: unset), minus what
    the suite itself sets (its settings module and key, and what the browser tests allow)."""
    own = {"DJANGO_SETTINGS_MODULE", "SECRET_KEY", "SECRET_KEY_FILE", "DEBUG"}
    own.add("DJANGO_ALLOW_ASYNC_UNSAFE")
    merged = {k: v for k, v in os.environ.items() if k not in own} | env
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={k: v for k, v in merged.items() if v is not None},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "environment",
    [
        {"DJANGO_SETTINGS_MODULE": "retailsync.settings"},
        # DEBUG=1 in the environment does not make production settings take the demo's key.
        {"DJANGO_SETTINGS_MODULE": "retailsync.settings_production", "DEBUG": "1"},
    ],
)
def test_outside_debug_retailsync_refuses_to_start_without_a_secret_key(environment):
    result = run("manage.py", "check", **environment)

    assert result.returncode == 1
    assert REFUSAL in result.stderr
    assert "SECRET_KEY (or SECRET_KEY_FILE" in result.stderr


def test_the_demo_starts_without_a_key_and_a_deployment_may_keep_its_key_in_a_file(tmp_path):
    show_key = ["-c", "from django.conf import settings; print(settings.SECRET_KEY)"]
    demo = run(*show_key, DJANGO_SETTINGS_MODULE="retailsync.settings", DEBUG="1")
    assert demo.returncode == 0, demo.stderr
    # Django's deployment check flags this prefix wherever the demo's key ends up.
    assert demo.stdout.startswith("django-insecure-")

    (tmp_path / "secret_key").write_text(KEY + "\n")
    production = run(
        *show_key,
        DJANGO_SETTINGS_MODULE="retailsync.settings_production",
        SECRET_KEY_FILE=str(tmp_path / "secret_key"),
    )
    assert (production.returncode, production.stdout) == (0, KEY + "\n"), production.stderr

    missing = run(
        *show_key,
        DJANGO_SETTINGS_MODULE="retailsync.settings",
        SECRET_KEY_FILE=str(tmp_path / "nowhere"),
    )
    assert missing.returncode == 1
    assert f"SECRET_KEY_FILE={tmp_path / 'nowhere'} cannot be read" in missing.stderr


def test_production_settings_refuse_to_start_without_postgres_and_redis():
    result = run(
        "manage.py",
        "check",
        DJANGO_SETTINGS_MODULE="retailsync.settings_production",
        SECRET_KEY=KEY,
        DATABASE_URL=None,
        CELERY_BROKER_URL=None,
    )

    assert result.returncode == 1
    assert "DATABASE_URL and CELERY_BROKER_URL not set" in result.stderr


def test_production_settings_pass_check_deploy_with_no_warnings():
    result = run(
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SETTINGS_MODULE="retailsync.settings_production",
        SECRET_KEY=KEY,
        ALLOWED_HOSTS="retailsync.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


DOCS = ("/api/schema/?format=json", "/api/docs/", "/api/docs/?script=", "/api/redoc/")


@override_settings(API_DOCS_PUBLIC=False)
@pytest.mark.django_db
def test_where_docs_are_not_public_only_staff_read_the_schema_and_the_docs(staff):
    stranger = Client()
    for path in DOCS:
        response = stranger.get(path)
        assert response.status_code == 401, path
    assert stranger.get("/api/schema/?format=json").json() == {
        "errors": [{"field": "", "message": "Authentication credentials were not provided."}]
    }

    finance = staff("finance")
    for path in DOCS:
        assert finance.get(path).status_code == 200, path
    assert finance.get("/api/schema/?format=json").json()["info"]["title"] == "retailsync API"


@pytest.mark.django_db
def test_the_demo_shows_its_docs_to_anyone():
    assert Client().get("/api/schema/?format=json").status_code == 200
    assert Client().get("/api/docs/").status_code == 200
    assert Client().get("/api/redoc/").status_code == 200


@pytest.mark.django_db
def test_swagger_ui_comes_from_our_own_static_files_not_a_cdn():
    page = Client().get("/api/docs/").content.decode()

    assert not re.search(r"(src|href)=\"(https?:)?//", page), page
    assets = re.findall(r"(?:src|href)=\"/static/([^\"]+)\"", page)
    assert {
        "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-standalone-preset.js",
        "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
    } <= set(assets)
    for asset in assets:
        assert finders.find(asset), asset  # collectstatic gathers it: no network needed
    # The start-up script is a file of ours too (no inline script for a CSP to allow).
    assert '<script src="/api/docs/?script="></script>' in page
    script = Client().get("/api/docs/?script=")
    assert script["Content-Type"] == "application/javascript"
    assert '"/api/schema/"' in script.content.decode()


def test_readme_documents_every_environment_variable_the_settings_and_serve_read():
    read = re.compile(
        r"""(?:environ(?:\.get|\.setdefault)?\(|environ\[|env_(?:bool|list)\()\s*["']([A-Z][A-Z0-9_]+)["']"""
    )
    sources = [
        "retailsync/settings.py",
        "retailsync/settings_production.py",
        "gunicorn.conf.py",
        "deploy/serve.py",
    ]
    names = {name for source in sources for name in read.findall((ROOT / source).read_text())}
    documented = set(
        re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", (ROOT / "README.md").read_text(), re.M)
    )

    assert {"SECRET_KEY", "SECRET_KEY_FILE", "GUNICORN_WORKERS", "CELERY_CONCURRENCY"} <= names
    assert names - documented == set()


@pytest.mark.django_db
def test_redoc_comes_from_our_own_static_files_with_no_web_fonts_or_inline_script():
    page = Client().get("/api/redoc/").content.decode()

    assert not re.search(r"(src|href)=\"(https?:)?//", page), page
    assert "googleapis" not in page and "<script>" not in page
    assets = re.findall(r"(?:src|href)=\"/static/([^\"]+)\"", page)
    assert assets == ["drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"]
    assert finders.find(assets[0])
    assert '<redoc spec-url="/api/schema/">' in page
    # Its bundle's one outside reference (Redocly's logo) is never fetched: the page's policy.
    policy = Client().get("/api/redoc/")["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "img-src 'self' data:" in policy


def test_commands_that_only_read_the_code_run_without_a_secret_key():
    """makemigrations signs nothing: a developer (or CI) checks the migrations without a key;
    the same environment still refuses `check`, as above."""
    result = run("manage.py", "makemigrations", "--check", "--dry-run")

    assert result.returncode == 0, result.stderr
    assert "No changes detected" in result.stdout
    assert REFUSAL in run("manage.py", "check").stderr
