"""Settings of the ShopSense demo host project, read from the environment.

With nothing set this runs on the embedded default: a SQLite file under ``var/`` and Celery tasks
executed in-process. ``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL`` (cache, event buffer and Celery
broker) switch to the production set-up without code changes.
"""
from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SHOPSENSE_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
    SECRET_KEY = "insecure-demo-key-only-for-local-development"  # noqa: S105
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "personalization",
    "pricing",
    "inventory",
    "shop_project.shop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "personalization.host.middleware.RefuseUnstorableTextMiddleware",  # a NUL in a request is a 400, not a 500
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "shop_project.middleware.DatabaseUnavailableMiddleware",  # 503 + Retry-After while the database is away
]

ROOT_URLCONF = "shop_project.urls"
WSGI_APPLICATION = "shop_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "shop_project.shop.context_processors.shop",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'shopsense.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        # A kept connection is checked before each request, so a restarted PostgreSQL costs no failed requests.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file (not :memory:) so that a Celery worker process sees the test database too.
    _db_file = Path(DATABASES["default"]["NAME"])
    DATABASES["default"]["TEST"] = {"NAME": str(_db_file.with_name(f"test-{_db_file.name}"))}
    DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            # Reads miss and writes are skipped while Redis is down: the shop keeps serving.
            "BACKEND": "personalization.host.cache.FailSafeRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "shopsense",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "shop:home"
LOGOUT_REDIRECT_URL = "shop:home"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("SHOPSENSE_STATIC_ROOT", VAR_DIR / "static"))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("SHOPSENSE_MEDIA_ROOT", VAR_DIR / "media"))

# --- Django REST framework and the OpenAPI schema -------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
        "personalization.api.authentication.ApiKeyAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_VERSIONING_CLASS": "rest_framework.versioning.AcceptHeaderVersioning",
    "DEFAULT_VERSION": "1",
    "ALLOWED_VERSIONS": ["1"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # ShopSense's throttles: the client is the socket's address unless NUM_PROXIES trusted proxies stand in
    # front, and counts are kept per process while Redis is down (personalization/api/throttling.py).
    "DEFAULT_THROTTLE_CLASSES": [
        "personalization.api.throttling.AnonRateThrottle",
        "personalization.api.throttling.UserRateThrottle",
        "personalization.api.throttling.ScopedRateThrottle",
    ],
    # How many proxies of yours (load balancer, nginx) append to X-Forwarded-For in front of gunicorn; 0: the
    # socket's address is the client's and X-Forwarded-For is ignored.
    "NUM_PROXIES": int(os.environ.get("DJANGO_NUM_PROXIES", "0")),
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("THROTTLE_ANON", "120/min"),
        "user": os.environ.get("THROTTLE_USER", "2000/min"),
        "events": os.environ.get("THROTTLE_EVENTS", "600/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ShopSense API",
    "DESCRIPTION": "Behaviour capture, recommendations, pricing and inventory for a Django shop.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "personalization.api.schema.add_error_responses",
    ],
}

# --- Celery: Redis when REDIS_URL is set, otherwise tasks run in-process ----------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", REDIS_URL or None)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# With acks_late, Redis hands an unacknowledged task to another worker after the visibility timeout: it must
# outlast the longest task (the recommender's 2 h limit), or a long training would run twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3 * 60 * 60,
    # Ping an idle broker connection every 10 s (kombu's default is 25 s) and keep TCP keepalive on, so a
    # Redis that went away is noticed, and reconnected to, within seconds.
    "health_check_interval": 10,
    "socket_keepalive": True,
}
if CELERY_BROKER_URL.startswith("redis://"):
    # kombu's Redis transport with one fix: a late acknowledgement through the channel of a connection
    # that Redis closed no longer kills the worker (personalization/host/broker.py, docs/operations.md).
    CELERY_BROKER_TRANSPORT = "personalization.host.broker:Transport"
# Reconnect for as long as Redis is away (Celery's default gives up after 100 attempts, about 50 minutes,
# and the worker exits), on startup too.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TASK_TIME_LIMIT = 60 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 55 * 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
# A worker consumes the "gpu" queue (torch training on CUDA): set on every process, so routing sends it there.
SHOPSENSE_GPU_QUEUE = env_bool("SHOPSENSE_GPU_QUEUE")
# CPU threads each job's numerical libraries may use (OpenMP, BLAS, PyTorch; personalization.host.threads): 0 = the
# default (1); raise it on a worker that has the cores to itself.
SHOPSENSE_THREADS = int(os.environ.get("SHOPSENSE_THREADS") or 0)

# --- The host contract: which models are the shop's ------------------------------------------
SHOP_PRODUCT_MODEL = "shop.Product"
SHOP_ORDER_MODEL = "shop.Order"
SHOP_ORDER_LINE_MODEL = "shop.OrderLine"

PERSONALIZATION = {
    "SHOP_ADAPTER": "personalization.host.adapters.DefaultShopAdapter",
    "PRODUCT_FIELDS": {
        "price": "list_price",
        "unit_cost": "unit_cost",
        "stock": "stock_on_hand",
        "category": "category",
        "active": "is_active",
        "name": "name",
        "description": "description",
        "sku": "sku",
    },
    "ORDER_FIELDS": {"user": "customer", "placed_at": "placed_at"},
    "ORDER_LINE_FIELDS": {
        "order": "order",
        "product": "product",
        "quantity": "quantity",
        "price": "unit_price",
    },
    "CAPTURE_ORDER_LINES": env_bool("SHOPSENSE_CAPTURE_ORDER_LINES", False),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own "django" logger prints to a console handler of its own under DEBUG and propagates to
        # the root as well: every request warning came out twice. One handler, the root's.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
    },
}

for _folder in (VAR_DIR, STATIC_ROOT):
    _folder.mkdir(parents=True, exist_ok=True)
