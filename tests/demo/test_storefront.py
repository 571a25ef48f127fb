"""The demo storefront through Django's test client: pages, cart, checkout, and the events it sends."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from personalization.capture.services import flush_buffer
from personalization.models import Event, EventType
from shop_project.shop.cart import CART_SESSION_KEY
from shop_project.shop.models import Order, Product

from .conftest import TEST_PASSWORD, CategoryFactory, OrderFactory, OrderLineFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

DATA_CREDIT_TEXT = "Product and order data: UCI Online Retail data set (Daqing Chen, 2015), CC BY 4.0,"


def stored_events(**filters) -> list[Event]:
    """Events in the database after moving any buffered ones there (REDIS_URL buffers them)."""
    flush_buffer()
    return list(Event.objects.filter(**filters).order_by("id"))


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def add_to_cart(client: Client, product: Product, quantity: int) -> None:
    """Put a product in the cart, then open the cart (which shows, and so uses up, the "added" message)."""
    client.post(reverse("shop:cart-add", args=[product.pk]), {"quantity": str(quantity)})
    client.get(reverse("shop:cart"))


def cart_of(client: Client) -> dict[str, int]:
    return dict(client.session.get(CART_SESSION_KEY, {}))


# --- pages ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url_name", "args", "query", "expected_text"),
    [
        ("shop:home", (), "", "Best sellers"),
        ("shop:category", ("kitchen",), "", "Enamel Mug"),
        ("shop:product", None, "", "Add to cart"),
        ("shop:search", (), "?q=enamel", "Enamel Mug"),
        ("shop:cart", (), "", "Your cart is empty"),
        ("login", (), "", "Log in"),
    ],
)
def test_page_renders_with_header_and_data_credit(client, product, url_name, args, query, expected_text):
    # given a catalogue with one product
    url = reverse(url_name, args=(product.pk,) if args is None else args) + query

    # when a guest opens the page
    response = client.get(url)

    # then it renders with the page's content, the header's category and the footer's credit
    assert response.status_code == 200
    html = response.content.decode()
    assert expected_text in html
    assert f'href="{reverse("shop:category", args=["kitchen"])}"' in html
    assert DATA_CREDIT_TEXT in html
    assert 'href="https://doi.org/10.24432/C5BW33"' in html


@pytest.mark.parametrize("url_name", ["shop:checkout", "shop:account"])
def test_pages_for_customers_send_guests_to_login(client, url_name):
    # when a guest opens a customer page
    response = client.get(reverse(url_name))

    # then they are sent to the login page, coming back afterwards
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={reverse(url_name)}"


@pytest.mark.parametrize(
    ("stock", "badge"),
    [(3, "In stock"), (0, "Out of stock")],
)
def test_product_page_shows_price_and_stock_badge(client, category, stock, badge):
    # given a product with some stock (or none)
    product = ProductFactory(category=category, list_price=Decimal("12.50"), stock_on_hand=stock)

    # when its page is opened
    html = client.get(product.get_absolute_url()).content.decode()

    # then the price and the right stock badge show, and the cart form only when there is stock
    assert "£12.50" in html
    assert badge in html
    assert ("Add to cart" in html) is (stock > 0)


@pytest.mark.parametrize("path", ["/product/999999/", "/category/no-such-category/", "/account/orders/NOPE/"])
def test_unknown_objects_are_404(shopper_client, path):
    assert shopper_client.get(path).status_code == 404


def test_inactive_product_is_404(client, category):
    product = ProductFactory(category=category, is_active=False)

    assert client.get(product.get_absolute_url()).status_code == 404


def test_home_lists_best_sellers_by_orders_then_units(client, category):
    # given products ordered 3 times (1 unit each), twice (2 units), twice (5 units), once in bulk, never,
    # and a product taken off sale that was ordered most often
    for name, quantities in [
        ("Popular", [1, 1, 1]),
        ("Liked", [1, 1]),
        ("Liked More", [2, 3]),
        ("Bulk", [500]),
        ("Never Sold", []),
        ("Off Sale", [1, 1, 1, 1]),
    ]:
        product = ProductFactory(category=category, name=name, is_active=name != "Off Sale")
        for quantity in quantities:
            OrderLineFactory(product=product, quantity=quantity)

    # when the home page is opened
    response = client.get(reverse("shop:home"))

    # then the sold products on sale are listed, the most often ordered first, ties by units
    assert [p.name for p in response.context["best_sellers"]] == ["Popular", "Liked More", "Liked", "Bulk"]


def test_category_page_paginates_and_sorts(client, category):
    # given 30 active products with distinct prices and one inactive product
    for index in range(30):
        ProductFactory(category=category, name=f"Item {index:02d}", list_price=Decimal(index + 1))
    ProductFactory(category=category, name="Hidden", is_active=False)
    url = reverse("shop:category", args=[category.slug])

    # when the second page sorted by price, high to low, is opened
    response = client.get(url, {"sort": "-price", "page": 2})

    # then it holds the 6 cheapest active products, most expensive first
    page = response.context["page_obj"]
    assert page.paginator.count == 30
    assert [p.list_price for p in page.object_list] == [Decimal(n) for n in range(6, 0, -1)]


@pytest.mark.parametrize("page", ["abc", "-3", "999"])
def test_category_page_survives_bad_page_numbers(client, product, page):
    response = client.get(reverse("shop:category", args=["kitchen"]), {"page": page, "sort": "nonsense"})

    assert response.status_code == 200
    assert [p.pk for p in response.context["page_obj"]] == [product.pk]


@pytest.mark.parametrize(
    ("query", "expected"),
    [("enamel", ["Enamel Mug"]), ("84029e", ["Enamel Mug"]), ("picnic", ["Wicker Basket"]), ("mug red", []), ("", [])],
)
def test_search_matches_name_sku_and_description(client, product, query, expected):
    # given two products, one described as a picnic basket
    ProductFactory(
        category=product.category, name="Wicker Basket", sku="22000", description="For a picnic in the park."
    )

    # when a shopper searches
    response = client.get(reverse("shop:search"), {"q": query})

    # then the matching products are listed
    assert response.status_code == 200
    assert [p.name for p in response.context["page_obj"]] == expected


def test_search_records_a_search_event_on_its_first_page_only(client, product, django_capture_on_commit_callbacks):
    # when a shopper searches and then opens page 2 of the results
    with django_capture_on_commit_callbacks(execute=True):
        client.get(reverse("shop:search"), {"q": "  enamel   mug "})
        client.get(reverse("shop:search"), {"q": "enamel mug", "page": 2})

    # then one search event with the normalised text is stored
    assert [(e.event_type, e.query) for e in stored_events()] == [(EventType.SEARCH, "enamel mug")]


# --- cart -----------------------------------------------------------------------------------------


def test_cart_add_update_remove(client, product, category):
    # given a second product in the catalogue
    other = ProductFactory(category=category, list_price=Decimal("1.25"), stock_on_hand=50)

    # when a shopper adds 2 mugs and 4 of the other product
    client.post(reverse("shop:cart-add", args=[product.pk]), {"quantity": "2"})
    response = client.post(reverse("shop:cart-add", args=[other.pk]), {"quantity": "4"})

    # then the cart holds both, the header counts 6 items and the total is 2×3.75 + 4×1.25
    assert response.status_code == 302 and response["Location"] == reverse("shop:cart")
    assert cart_of(client) == {str(product.pk): 2, str(other.pk): 4}
    page = client.get(reverse("shop:cart"))
    assert page.context["total"] == Decimal("12.50")
    assert page.context["cart_count"] == 6

    # when the mug's quantity is changed to 3 and the other product removed
    client.post(reverse("shop:cart-update", args=[product.pk]), {"quantity": "3"})
    client.post(reverse("shop:cart-remove", args=[other.pk]))

    # then only 3 mugs remain
    assert cart_of(client) == {str(product.pk): 3}
    assert client.get(reverse("shop:cart")).context["total"] == Decimal("11.25")


def test_cart_update_to_zero_removes_the_line(client, product):
    client.post(reverse("shop:cart-add", args=[product.pk]), {"quantity": "1"})

    client.post(reverse("shop:cart-update", args=[product.pk]), {"quantity": "0"})

    assert cart_of(client) == {}


def test_adding_twice_adds_up(client, product):
    client.post(reverse("shop:cart-add", args=[product.pk]), {"quantity": "2"})
    client.post(reverse("shop:cart-add", args=[product.pk]), {"quantity": "3"})

    assert cart_of(client) == {str(product.pk): 5}


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("abc", "Quantity: Enter a whole number for the quantity."),
        ("", "Quantity: This field is required."),
        ("0", "Quantity: Ensure this value is greater than or equal to 1."),
        ("-2", "Quantity: Ensure this value is greater than or equal to 1."),
        ("2.5", "Quantity: Enter a whole number for the quantity."),
        ("6", "Only 5 of “Enamel Mug” in stock."),
        ("100000", "Quantity: Ensure this value is less than or equal to 999."),
    ],
)
def test_bad_add_to_cart_quantity_gives_a_message_not_an_error(client, product, quantity, message):
    # when a shopper posts a bad quantity for a product with 5 in stock
    response = client.post(reverse("shop:cart-add", args=[product.pk]), {"quantity": quantity})

    # then they are sent back to the product with a message, and the cart stays empty
    assert response.status_code == 302
    assert response["Location"] == product.get_absolute_url()
    assert messages_of(response) == [message]
    assert cart_of(client) == {}


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("abc", "Quantity: Enter a whole number for the quantity."),
        ("-1", "Quantity: Ensure this value is greater than or equal to 0."),
        ("9", "Only 5 of “Enamel Mug” in stock."),
    ],
)
def test_bad_cart_update_keeps_the_line(client, product, quantity, message):
    # given 2 mugs in the cart (5 in stock)
    add_to_cart(client, product, 2)

    # when the shopper sends a bad new quantity
    response = client.post(reverse("shop:cart-update", args=[product.pk]), {"quantity": quantity})

    # then they get a message and the line keeps its quantity
    assert response.status_code == 302
    assert messages_of(response) == [message]
    assert cart_of(client) == {str(product.pk): 2}


def test_out_of_stock_product_cannot_be_added(client, category):
    product = ProductFactory(category=category, name="Sold Out Vase", stock_on_hand=0)

    response = client.post(reverse("shop:cart-add", args=[product.pk]), {"quantity": "1"})

    assert messages_of(response) == ["“Sold Out Vase” is out of stock."]
    assert cart_of(client) == {}


@pytest.mark.parametrize("view_name", ["shop:cart-add", "shop:cart-update", "shop:cart-remove"])
def test_cart_changes_of_unknown_products_never_fail(client, view_name):
    response = client.post(reverse(view_name, args=[424242]), {"quantity": "1"})

    assert response.status_code in (302, 404)


@pytest.mark.parametrize("view_name", ["shop:cart-add", "shop:cart-update", "shop:cart-remove"])
def test_cart_changes_need_post(client, product, view_name):
    assert client.get(reverse(view_name, args=[product.pk])).status_code == 405


def test_every_form_carries_a_csrf_token(client, product):
    # given a cart with one line, so the cart page has its update and remove forms
    client.post(reverse("shop:cart-add", args=[product.pk]), {"quantity": "1"})

    for url in (product.get_absolute_url(), reverse("shop:cart"), reverse("login")):
        html = client.get(url).content.decode()
        # then each POST form of the page holds a CSRF token
        assert html.count('method="post"') == html.count('name="csrfmiddlewaretoken"') > 0


def test_cart_forms_are_csrf_protected(product):
    # given a client that enforces CSRF like a browser
    client = Client(enforce_csrf_checks=True)

    # when it posts to the cart without a token
    response = client.post(reverse("shop:cart-add", args=[product.pk]), {"quantity": "1"})

    # then the post is refused and nothing is added
    assert response.status_code == 403
    assert cart_of(client) == {}


def test_cart_drops_products_taken_off_sale(client, product):
    client.post(reverse("shop:cart-add", args=[product.pk]), {"quantity": "1"})
    Product.objects.filter(pk=product.pk).update(is_active=False)

    response = client.get(reverse("shop:cart"))

    assert response.context["lines"] == []
    assert cart_of(client) == {}


# --- checkout -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # commits for real, so on_commit work runs inside the request
def test_checkout_creates_order_with_lines_and_takes_stock(shopper_client, shopper, product, category):
    # given a cart with 2 mugs (5 in stock) and 3 plates (10 in stock)
    plate = ProductFactory(category=category, name="Plate", list_price=Decimal("2.00"), stock_on_hand=10)
    shopper_client.post(reverse("shop:cart-add", args=[product.pk]), {"quantity": "2"})
    shopper_client.post(reverse("shop:cart-add", args=[plate.pk]), {"quantity": "3"})

    # when the shopper places the order
    response = shopper_client.post(reverse("shop:checkout"), {"country": "France"})

    # then one order with both lines at the current prices exists, stock went down, and the cart is empty
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("shop:order", args=[order.number])
    assert (order.customer, order.country) == (shopper, "France")
    assert sorted((line.product.name, line.quantity, line.unit_price) for line in order.lines.all()) == [
        ("Enamel Mug", 2, Decimal("3.75")),
        ("Plate", 3, Decimal("2.00")),
    ]
    assert order.total == Decimal("13.50")
    assert Product.objects.get(pk=product.pk).stock_on_hand == 3
    assert Product.objects.get(pk=plate.pk).stock_on_hand == 7
    assert cart_of(shopper_client) == {}
    # and the purchases are recorded as events of the shopper
    purchases = stored_events(event_type=EventType.PURCHASE)
    assert sorted((e.product_id, e.quantity, e.user_id) for e in purchases) == sorted(
        [(product.pk, 2, shopper.pk), (plate.pk, 3, shopper.pk)]
    )
    # and the order shows on the account and order pages
    assert order.number in shopper_client.get(reverse("shop:account")).content.decode()
    assert "£13.50" in shopper_client.get(response["Location"]).content.decode()


def test_checkout_refuses_quantities_above_stock(shopper_client, product):
    # given a cart with 4 mugs, after which someone else bought all but one
    add_to_cart(shopper_client, product, 4)
    Product.objects.filter(pk=product.pk).update(stock_on_hand=1)

    # when the shopper tries to place the order
    response = shopper_client.post(reverse("shop:checkout"), {"country": "United Kingdom"})

    # then no order is placed, the stock is untouched and the shopper is told why
    assert response.status_code == 302 and response["Location"] == reverse("shop:cart")
    assert messages_of(response) == ["Only 1 of “Enamel Mug” left in stock (you asked for 4)."]
    assert Order.objects.count() == 0
    assert Product.objects.get(pk=product.pk).stock_on_hand == 1
    assert cart_of(shopper_client) == {str(product.pk): 4}


def test_checkout_with_empty_cart_goes_back_to_cart(shopper_client):
    response = shopper_client.post(reverse("shop:checkout"), {"country": "United Kingdom"})

    assert response["Location"] == reverse("shop:cart")
    assert Order.objects.count() == 0


def test_checkout_needs_a_country(shopper_client, product):
    add_to_cart(shopper_client, product, 1)

    response = shopper_client.post(reverse("shop:checkout"), {"country": ""})

    assert response.status_code == 200
    assert messages_of(response) == ["Country: This field is required."]
    assert Order.objects.count() == 0


def test_account_lists_only_own_orders(shopper_client, shopper, product):
    # given an order of the shopper and one of someone else
    own = OrderLineFactory(order=OrderFactory(customer=shopper), product=product, quantity=2).order
    other = OrderLineFactory(order=OrderFactory(customer=UserFactory()), product=product).order

    # when the shopper opens their account and the other order
    response = shopper_client.get(reverse("shop:account"))

    # then they see only their own order, with its total
    assert [order.number for order in response.context["page_obj"]] == [own.number]
    assert "£7.50" in response.content.decode()
    assert shopper_client.get(reverse("shop:order", args=[other.number])).status_code == 404


# --- behaviour events -----------------------------------------------------------------------------


def test_product_view_and_add_to_cart_store_events(client, product, django_capture_on_commit_callbacks):
    # when a guest arrives through a recommendation, views the product and adds 2 to the cart
    with django_capture_on_commit_callbacks(execute=True):
        client.get(product.get_absolute_url(), {"rec": "rec-123"})
        client.post(reverse("shop:cart-add", args=[product.pk]), {"quantity": "2", "rec": "rec-123"})

    # then a view and a cart event of that visitor are stored, with price and recommendation id
    events = stored_events()
    assert [(e.event_type, e.product_id, e.quantity, e.price, e.recommendation_id) for e in events] == [
        (EventType.VIEW, product.pk, 1, Decimal("3.75"), "rec-123"),
        (EventType.CLICK, product.pk, 1, None, "rec-123"),
        (EventType.CART, product.pk, 2, Decimal("3.75"), "rec-123"),
    ]
    assert {e.user_id for e in events} == {None}
    assert len({e.session_key for e in events}) == 1 and events[0].session_key


def test_refused_add_to_cart_stores_no_cart_event(client, product, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("shop:cart-add", args=[product.pk]), {"quantity": "99"})

    assert stored_events(event_type=EventType.CART) == []


def test_guest_events_are_merged_into_the_user_at_login(client, product, shopper, django_capture_on_commit_callbacks):
    # given a guest who viewed a product
    with django_capture_on_commit_callbacks(execute=True):
        client.get(product.get_absolute_url())

    # when they log in through the login view
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("login"), {"username": "alice", "password": TEST_PASSWORD})

    # then the view they made as a guest belongs to their account
    assert response.status_code == 302
    assert [(e.event_type, e.user_id) for e in stored_events()] == [(EventType.VIEW, shopper.pk)]


def test_header_categories_cost_one_cached_query(client):
    # given three categories
    for name in ("Garden", "Lighting", "Toys"):
        CategoryFactory(name=name, slug=name.lower())
    client.get(reverse("shop:cart"))  # warms the category cache (and the session)

    # when another page is drawn, the header's categories come from the cache (the page's recommendations
    # widget still reads the visitor's recent events)
    with CaptureQueriesContext(connection) as queries:
        html = client.get(reverse("shop:cart")).content.decode()

    assert [q["sql"] for q in queries if "shop_category" in q["sql"] and "shop_product" not in q["sql"]] == []

    assert [name for name in ("Garden", "Lighting", "Toys") if f">{name}</a>" in html] == ["Garden", "Lighting", "Toys"]


def test_a_failing_signal_receiver_never_breaks_the_page(client, product, django_capture_on_commit_callbacks):
    # given a receiver of the product view signal that fails
    from personalization.signals import product_viewed

    def broken_receiver(**kwargs):
        raise RuntimeError("receiver bug")

    product_viewed.connect(broken_receiver, dispatch_uid="test-broken-receiver")
    try:
        # when a shopper opens the product page
        with django_capture_on_commit_callbacks(execute=True):
            response = client.get(product.get_absolute_url())
    finally:
        product_viewed.disconnect(dispatch_uid="test-broken-receiver")

    # then the page renders and the other receivers still stored the view
    assert response.status_code == 200
    assert [e.event_type for e in stored_events()] == [EventType.VIEW]
