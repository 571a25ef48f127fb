"""The shop owner's admin home: the admin index with today's to-dos of the three apps above the app list.

:func:`install` (called when Django imports the admin modules) points the default admin site's index at
``admin/personalization/index.html``, which extends Django's own index, unless the host set an index template
of its own (then it may extend ours, or add ``{% include "admin/personalization/todos.html" %}``).
"""
from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.sites import AdminSite

INDEX_TEMPLATE = "admin/personalization/index.html"


def install(site: AdminSite | None = None) -> None:
    """Show the to-dos on ``site``'s index (the default admin site when None), leaving a host's own index be."""
    site = site or admin.site
    if site.index_template is None:
        site.index_template = INDEX_TEMPLATE
