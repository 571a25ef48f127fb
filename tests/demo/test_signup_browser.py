"""A guest with a cart who goes to the checkout is told why it asks for a login, signs up, and checks out."""
from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from shop_project.shop.models import Order

from .test_browser import lantern, save_screenshot, shop_for_lantern  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_guest_signs_up_at_the_checkout_and_places_the_order(page, live_server, lantern):  # noqa: F811
    # given a guest with two lanterns in the cart
    shop_for_lantern(page, live_server.url, lantern)

    # when the guest goes to the checkout
    page.goto(f"{live_server.url}/checkout/")

    # then the login page says why, and offers an account
    page.wait_for_url(re.compile(r".*/accounts/login/\?next=/checkout/$"))
    assert "Please log in, or create an account, to check out. Your cart is kept." in page.locator(
        ".messages").inner_text()
    save_screenshot(page, "shop-login-for-checkout")
    page.get_by_test_id("signup-link").click()

    # when they create an account
    page.wait_for_url(re.compile(r".*/signup/\?next=/checkout/$"))
    page.get_by_label("Username").fill("newcomer")
    page.get_by_label("Password", exact=True).fill("a-long-enough-pass-42")
    page.get_by_label("Password confirmation").fill("a-long-enough-pass-42")
    save_screenshot(page, "shop-signup")
    page.get_by_role("button", name="Create account").click()

    # then they are signed in at the checkout with the cart, and can place the order
    page.wait_for_url(re.compile(r".*/checkout/$"))
    assert "Welcome, newcomer! Your account is ready." in page.locator(".messages").inner_text()
    page.get_by_role("button", name=re.compile("Place order", re.I)).click()
    page.wait_for_url(re.compile(r".*/account/orders/.+/$"))
    order = Order.objects.get()
    assert order.customer == get_user_model().objects.get(username="newcomer")
    assert list(order.lines.values_list("product_id", "quantity")) == [(lantern.pk, 2)]


def test_a_sign_up_with_mismatched_passwords_says_so_and_creates_nobody(page, live_server):
    page.goto(f"{live_server.url}/signup/")
    page.get_by_label("Username").fill("newcomer")
    page.get_by_label("Password", exact=True).fill("a-long-enough-pass-42")
    page.get_by_label("Password confirmation").fill("another-pass-43")
    page.get_by_role("button", name="Create account").click()

    assert "didn’t match" in page.locator(".message-error").first.inner_text()
    assert not get_user_model().objects.filter(username="newcomer").exists()
