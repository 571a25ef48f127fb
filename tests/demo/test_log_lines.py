"""The demo's log configuration: each log line is printed once (Django's own console handler used to print
request warnings a second time under DEBUG)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("debug", ["1", "0"])
def test_a_request_warning_is_printed_once(debug: str):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "shop_project.settings", "DJANGO_DEBUG": debug,
           "DJANGO_SECRET_KEY": "a-test-key-" * 6}
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('django.request').warning('Not Found: /marker/'); "
        "logging.getLogger('pricing').warning('pricing marker')"
    )

    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)

    lines = result.stderr.splitlines()
    assert [line for line in lines if "/marker/" in line] == [
        next(line for line in lines if line.endswith("WARNING django.request Not Found: /marker/"))
    ]
    assert len([line for line in lines if "pricing marker" in line]) == 1
