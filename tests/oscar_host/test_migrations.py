"""ShopSense's migrations under Oscar. The suite builds its tables from the models (conftest.py), so this
checks the migrations in a process of their own: the graph resolves against Oscar's apps (ShopSense's
product foreign keys point at ``catalogue.Product``), ``migrate --plan`` orders Oscar's catalogue before
ShopSense, and no model change lacks a migration."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.processes import ROOT

SCRIPT = """
import django
from django.core.management import call_command
django.setup()
call_command("migrate", "--plan")
print("=== makemigrations")
call_command("makemigrations", "--check", "--dry-run")
"""


def test_shopsense_migrations_resolve_against_oscar_and_none_is_missing(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.oscar_host.settings",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'plan.sqlite3'}"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    plan, checked = done.stdout.split("=== makemigrations")
    steps = [line.strip().split(".")[0] for line in plan.splitlines() if "." in line and not line.startswith(" ")]
    assert steps.index("catalogue") < steps.index("personalization") < steps.index("inventory")
    assert "No changes detected" in checked
