"""A fresh django-oscar project's settings, plus ShopSense (the block at the end, as README "Plug into
django-oscar" gives it). Database and Redis come from DATABASE_URL / REDIS_URL like the other test hosts."""
import os
import uuid
from pathlib import Path

import dj_database_url
from oscar.defaults import *  # noqa: F403

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("SHOPSENSE_VAR_DIR", BASE_DIR.parent.parent / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = "oscar-test-host-only"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
SITE_ID = 1

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.flatpages",
    "oscar.config.Shop",
    "oscar.apps.analytics.apps.AnalyticsConfig",
    "oscar.apps.checkout.apps.CheckoutConfig",
    "oscar.apps.address.apps.AddressConfig",
    "oscar.apps.shipping.apps.ShippingConfig",
    "oscar.apps.catalogue.apps.CatalogueConfig",
    "oscar.apps.catalogue.reviews.apps.CatalogueReviewsConfig",
    "oscar.apps.communication.apps.CommunicationConfig",
    "oscar.apps.partner.apps.PartnerConfig",
    "oscar.apps.basket.apps.BasketConfig",
    "oscar.apps.payment.apps.PaymentConfig",
    "oscar.apps.offer.apps.OfferConfig",
    "oscar.apps.order.apps.OrderConfig",
    "oscar.apps.customer.apps.CustomerConfig",
    "oscar.apps.search.apps.SearchConfig",
    "oscar.apps.voucher.apps.VoucherConfig",
    "oscar.apps.wishlists.apps.WishlistsConfig",
    "oscar.apps.dashboard.apps.DashboardConfig",
    "oscar.apps.dashboard.reports.apps.ReportsDashboardConfig",
    "oscar.apps.dashboard.users.apps.UsersDashboardConfig",
    "oscar.apps.dashboard.orders.apps.OrdersDashboardConfig",
    "oscar.apps.dashboard.catalogue.apps.CatalogueDashboardConfig",
    "oscar.apps.dashboard.offers.apps.OffersDashboardConfig",
    "oscar.apps.dashboard.partners.apps.PartnersDashboardConfig",
    "oscar.apps.dashboard.pages.apps.PagesDashboardConfig",
    "oscar.apps.dashboard.ranges.apps.RangesDashboardConfig",
    "oscar.apps.dashboard.reviews.apps.ReviewsDashboardConfig",
    "oscar.apps.dashboard.vouchers.apps.VouchersDashboardConfig",
    "oscar.apps.dashboard.communications.apps.CommunicationsDashboardConfig",
    "oscar.apps.dashboard.shipping.apps.ShippingDashboardConfig",
    "widget_tweaks",
    "haystack",
    "treebeard",
    "sorl.thumbnail",
    "django_tables2",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "oscar.apps.basket.middleware.BasketMiddleware",
    "django.contrib.flatpages.middleware.FlatpageFallbackMiddleware",
]
AUTHENTICATION_BACKENDS = [
    "oscar.apps.customer.auth_backends.EmailBackend",
    "django.contrib.auth.backends.ModelBackend",
]
ROOT_URLCONF = "tests.oscar_host.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.template.context_processors.i18n",
                "django.contrib.messages.context_processors.messages",
                "oscar.apps.search.context_processors.search_form",
                "oscar.apps.checkout.context_processors.checkout",
                "oscar.apps.communication.notifications.context_processors.notifications",
                "oscar.core.context_processors.metadata",
            ],
        },
    },
]
_db_file = VAR_DIR / "oscar-host.sqlite3"
DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL") or f"sqlite:///{_db_file}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    _test_db = Path(DATABASES["default"]["NAME"]).with_name("test-oscar-host.sqlite3")
    DATABASES["default"]["TEST"] = {"NAME": str(_test_db)}
    DATABASES["default"]["OPTIONS"] = {"timeout": 30}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
HAYSTACK_CONNECTIONS = {"default": {"ENGINE": "haystack.backends.simple_backend.SimpleEngine"}}
HAYSTACK_SIGNAL_PROCESSOR = "haystack.signals.BaseSignalProcessor"
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
MEDIA_URL = "media/"
MEDIA_ROOT = VAR_DIR / "oscar-media"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
OSCAR_DEFAULT_CURRENCY = "GBP"
REDIS_URL = os.environ.get("REDIS_URL", "")
_RUN = f"oscar-test-{uuid.uuid4().hex[:8]}"
if REDIS_URL:  # one cache namespace per test run (throttle counts, job locks); a worker started by a test gets it
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "KEY_PREFIX": os.environ.get("SHOPSENSE_TEST_CACHE_PREFIX") or _RUN}}

# --- ShopSense: the lines of README "Plug into django-oscar" -------------------------------------------
INSTALLED_APPS += [
    "rest_framework", "rest_framework.authtoken", "drf_spectacular", "django_celery_beat",
    "personalization", "pricing", "inventory", "personalization.contrib.oscar",
]
SHOP_PRODUCT_MODEL = "catalogue.Product"
SHOP_ORDER_MODEL = "order.Order"
SHOP_ORDER_LINE_MODEL = "order.Line"
PERSONALIZATION = {
    "SHOP_ADAPTER": "personalization.contrib.oscar.adapter.OscarShopAdapter",
    "PRODUCT_FIELDS": {"name": "title", "description": "description", "sku": "upc", "category": None, "stock": None},
    "ORDER_FIELDS": {"user": "user", "placed_at": "date_placed"},
    "OSCAR": {"UNIT_COST_ATTRIBUTE": "cost_price", "NON_SALE_STATUSES": ["Cancelled"]},
    # One event buffer per test run, handed to a worker started by a test (not a README line).
    "EVENT_BUFFER_KEY": os.environ.get("SHOPSENSE_TEST_BUFFER_KEY") or f"{_RUN}:events",
    "RECOMMENDATIONS": {"SEARCH": {"TIME_BUDGET_S": 10, "MAX_TRIALS": 3}},  # a tiny search: fast tests
}
REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
CELERY_BROKER_URL = REDIS_URL
# The tests run tasks in-process, except in the worker started by test_worker.py (a shop sets only the broker URL).
CELERY_TASK_ALWAYS_EAGER = os.environ.get("SHOPSENSE_TEST_EAGER", "1") == "1"
CELERY_TASK_EAGER_PROPAGATES = True
