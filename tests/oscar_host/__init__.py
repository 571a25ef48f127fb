"""A small django-oscar 4.2 project that installs ShopSense with settings and URL includes only.

``settings.py`` is a plain Oscar project's settings (as Oscar's documentation sets one up) plus the
lines README "Plug into django-oscar" lists, marked there; ``templates/`` overrides Oscar's product page
with Oscar's own block mechanism to show ShopSense's tags.
Run: ``pytest tests/oscar_host --ds=tests.oscar_host.settings``.
"""
