"""Production settings: the demo project's settings with DEBUG off and Django's deployment checks met.

``DJANGO_SETTINGS_MODULE=shop_project.settings_production``. Every secret comes from the environment:
``DJANGO_SECRET_KEY`` (required), ``DATABASE_URL`` (required; PostgreSQL), ``REDIS_URL``, and
``DJANGO_ALLOWED_HOSTS`` (required). ``python manage.py check --deploy --fail-level WARNING`` is clean.

Behind a proxy or load balancer that ends TLS, set ``DJANGO_SECURE_PROXY_SSL_HEADER=1`` (the proxy must
set ``X-Forwarded-Proto`` and strip it from clients); ``DJANGO_SECURE_SSL_REDIRECT=0`` when the proxy
redirects to HTTPS itself. Logs are JSON lines on stderr (``LOG_LEVEL``, default INFO).
"""
from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

if os.environ.get("DJANGO_DEBUG", "0").strip().lower() in {"1", "true", "yes", "on"}:
    raise ImproperlyConfigured("shop_project.settings_production runs with DEBUG off; unset DJANGO_DEBUG.")
os.environ["DJANGO_DEBUG"] = "0"  # the base settings then refuse to start without DJANGO_SECRET_KEY

from .settings import *  # noqa: E402,F403
from .settings import env_bool, env_list  # noqa: E402

for _required in ("DATABASE_URL", "DJANGO_ALLOWED_HOSTS"):
    if not os.environ.get(_required):
        raise ImproperlyConfigured(f"{_required} must be set for the production settings.")

DEBUG = False
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# HTTPS everywhere
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
if env_bool("DJANGO_SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^api/health/$"]  # load balancers probe over plain HTTP
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SILENCED_SYSTEM_CHECKS = [
    # Chosen explicitly through the environment, so not a forgotten setting.
    *(["security.W008"] if not SECURE_SSL_REDIRECT else []),
    *(["security.W005"] if not SECURE_HSTS_INCLUDE_SUBDOMAINS else []),
    *(["security.W021"] if not SECURE_HSTS_PRELOAD else []),
]

# The API's browsable HTML pages are for development.
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]}  # noqa: F405

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "personalization.host.log_format.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own "django" logger prints to a console handler of its own under DEBUG and propagates to
        # the root as well: every request warning came out twice. One handler, the root's.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
    },
}
