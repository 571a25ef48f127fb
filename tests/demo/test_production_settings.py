"""shop_project.settings_production: Django's deployment checks, secrets from the environment, JSON logs."""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _env(**overrides: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "shop_project.settings_production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "shop.example.com",
        "DATABASE_URL": os.environ.get("DATABASE_URL") or "postgres://shop@db:5432/shop",
    }
    env.pop("DJANGO_DEBUG", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by the browser tests in this process, never in deployment
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _run(*args: str, **overrides: str | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=_env(**overrides), capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean():
    result = _run("manage.py", "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_behind_a_proxy_that_redirects_itself_check_deploy_is_still_clean():
    result = _run(
        "manage.py", "check", "--deploy", "--fail-level", "WARNING",
        DJANGO_SECURE_PROXY_SSL_HEADER="1", DJANGO_SECURE_SSL_REDIRECT="0",
    )

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DJANGO_SECRET_KEY": None}, "DJANGO_SECRET_KEY must be set"),
        ({"DATABASE_URL": None}, "DATABASE_URL must be set"),
        ({"DJANGO_ALLOWED_HOSTS": None}, "DJANGO_ALLOWED_HOSTS must be set"),
        ({"DJANGO_DEBUG": "1"}, "runs with DEBUG off"),
    ],
)
def test_production_settings_refuse_to_start_without_their_secrets_or_with_debug(overrides, message):
    result = _run("manage.py", "check", **overrides)

    assert result.returncode != 0
    assert message in result.stderr


def test_a_weak_secret_key_fails_the_deploy_check():
    result = _run("manage.py", "check", "--deploy", "--fail-level", "WARNING", DJANGO_SECRET_KEY="short")

    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def test_logs_are_json_lines_without_addresses_or_keys():
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('shop').warning('mail to %s failed', 'alice@example.com'); "
        "logging.getLogger('shop').error('bad header Api-Key abcd1234.s3cr3t')"
    )

    result = _run("-c", code)

    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert [(line["level"], line["logger"], line["message"]) for line in lines] == [
        ("WARNING", "shop", "mail to [email] failed"),
        ("ERROR", "shop", "bad header Api-Key [redacted]"),
    ]
