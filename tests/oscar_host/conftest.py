"""Fixtures of the Oscar test host (factories in ``factories.py``)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def django_db_use_migrations() -> bool:
    """Tables from the models: Oscar's ~150 migrations take minutes on the shared CI cores, and the suite must
    stay under two. (``makemigrations --check`` under these settings and ``test_migrations.py`` cover them.)"""
    return False


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path  # model artifacts
    from personalization.recommending import serving

    serving._TABLES.clear()
