"""Settings for the apps' tests: the test host app replaces the demo shop entirely."""
import os
import uuid

from shop_project.settings import *  # noqa: F403
from shop_project.settings import INSTALLED_APPS, REDIS_URL, TEMPLATES

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "shop_project.shop"] + ["tests.testhost"]
ROOT_URLCONF = "tests.urls"
TEMPLATES[0]["OPTIONS"]["context_processors"] = [
    cp for cp in TEMPLATES[0]["OPTIONS"]["context_processors"] if not cp.startswith("shop_project.")
]

SHOP_PRODUCT_MODEL = "testhost.Item"
SHOP_ORDER_MODEL = "testhost.Purchase"
SHOP_ORDER_LINE_MODEL = "testhost.PurchaseLine"
PERSONALIZATION = {
    "PRODUCT_FIELDS": {
        "price": "price",
        "unit_cost": "cost",
        "stock": "stock",
        "on_order": "incoming",
        "category": "department__title",
        "active": "available",
        "name": "title",
        "description": "blurb",
        "sku": "code",
    },
    "ORDER_FIELDS": {"user": "buyer", "placed_at": "created"},
    "ORDER_LINE_FIELDS": {"order": "purchase", "product": "item", "quantity": "qty", "price": "unit_price"},
    # One buffer per test run, so that runs sharing a Redis never see each other's events (a Celery
    # worker started by a test is handed the run's key through the environment).
    "EVENT_BUFFER_KEY": os.environ.get("SHOPSENSE_TEST_BUFFER_KEY") or f"shopsense-test-{uuid.uuid4().hex[:8]}:events",
    "EVENT_FLUSH_BATCH_SIZE": int(os.environ.get("SHOPSENSE_TEST_FLUSH_BATCH_SIZE", "5000")),
    # The nightly search of the hybrid's settings: a tiny budget, so that tests training it stay fast.
    "RECOMMENDATIONS": {"SEARCH": {"TIME_BUDGET_S": 10, "MAX_TRIALS": 3}},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tasks run in-process, except in a real worker started by tests/apps/test_worker.py.
CELERY_TASK_ALWAYS_EAGER = os.environ.get("SHOPSENSE_TEST_EAGER", "1") == "1"
if REDIS_URL:
    # One cache namespace per test run; a worker or server started by a test gets the run's prefix (job locks).
    CACHES["default"]["KEY_PREFIX"] = (  # noqa: F405
        os.environ.get("SHOPSENSE_TEST_CACHE_PREFIX") or f"shopsense-test-{uuid.uuid4().hex[:8]}"
    )
if os.environ.get("SHOPSENSE_TEST_STORAGE"):  # a failing or slow model storage (tests/storage.py) for fault tests
    STORAGES = {
        "default": {"BACKEND": os.environ["SHOPSENSE_TEST_STORAGE"]},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
