"""Every storefront page of the demo shop, called with hostile text (NUL and other control characters in
query parameters and path segments, lone surrogates, NUL form fields, deep JSON): no 5xx."""
from __future__ import annotations

import pytest
from django.test import Client

from tests.url_fuzz import DEEP_JSON, hostile_paths, hostile_queries


@pytest.mark.parametrize("signed_in", [False, True])
def test_no_storefront_page_answers_5xx_to_hostile_text(product, shopper, signed_in):
    client = Client(raise_request_exception=False)
    if signed_in:
        client.force_login(shopper)
    paths = [path for path in hostile_paths(product.pk)
             if not path.startswith(("/admin/", "/api/")) and "logout" not in path]
    assert "/search/" in paths and f"/product/{product.pk}/" in paths

    failures = []
    for path in paths:
        for query in hostile_queries():
            status = client.get(path, query).status_code
            if status >= 500:
                failures.append(("GET", path, repr(query["q"]), status))
        for body, content_type in ((DEEP_JSON, "application/json"),
                                   ("quantity=1%00&q=%00&username=a%00", "application/x-www-form-urlencoded")):
            status = client.post(path, body, content_type=content_type).status_code
            if status >= 500:
                failures.append(("POST", path, content_type, status))

    assert failures == []
