"""Settings for the apps' tests: the test host app replaces the demo shop entirely."""
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
    # One buffer per test run, so that runs sharing a Redis never see each other's events.
    "EVENT_BUFFER_KEY": f"shopsense-test-{uuid.uuid4().hex[:8]}:events",
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
if REDIS_URL:
    CACHES["default"]["KEY_PREFIX"] = f"shopsense-test-{uuid.uuid4().hex[:8]}"  # noqa: F405
