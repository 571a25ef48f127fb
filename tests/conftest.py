"""Fixtures shared by the apps' tests (tests.settings) and the demo tests (shop_project.settings)."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core.cache import cache

from personalization.ops import redis_conn


@pytest.fixture(autouse=True)
def _clean_cache_and_buffer() -> Iterator[None]:
    """Each test starts with an empty cache (throttle counts), an empty event buffer and nothing memoised."""
    from personalization.capture import buffer
    from personalization.recommending import serving

    serving.reset()
    cache.clear()
    client = redis_conn.get_client()
    if client is not None:
        key = buffer.buffer_key()  # and every shard, its lock, the flush claim and the dead letters
        client.delete(key, *client.keys(key + ":*"))
    yield


@pytest.fixture
def redis_client():
    """A client of the test Redis; the test is skipped when REDIS_URL is not set."""

    if not settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set")
    return redis_conn.get_client()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("Debian's chromium is not installed (bin/test installs it with apt-get).")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path: str):
    """Headless Debian Chromium driven by Playwright (which never downloads a browser of its own)."""
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
