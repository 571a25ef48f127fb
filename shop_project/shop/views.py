"""Views of the demo storefront. They validate input, call the catalogue / cart / checkout modules,
send the ShopSense behaviour signals, and render. Bad input gives a message or a 404, never a 500."""
from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Page, Paginator
from django.db.models import DecimalField, ExpressionWrapper, F, QuerySet, Sum
from django.dispatch import Signal
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from personalization.signals import order_placed, product_added_to_cart, product_viewed, search_performed

from . import catalog
from .cart import Cart, CartError
from .checkout import CheckoutError, place_order
from .forms import AddToCartForm, CheckoutForm, UpdateCartForm, first_error
from .models import Category, Order, Product

logger = logging.getLogger(__name__)

PRODUCTS_PER_PAGE = 24
ORDERS_PER_PAGE = 20
MAX_QUERY_LENGTH = 100


def _send(signal: Signal, sender: type, **kwargs: Any) -> None:
    """Send a behaviour signal; a failing receiver is logged and never breaks the shopper's page."""
    for receiver, result in signal.send_robust(sender=sender, **kwargs):
        if isinstance(result, Exception):
            logger.error("Receiver %r of a storefront signal failed.", receiver, exc_info=result)


def _paginate(request: HttpRequest, queryset: QuerySet, per_page: int) -> Page:
    """The page named by ``?page=`` (the first for a bad number, the last past the end)."""
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return fallback


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Categories and the best sellers."""
    return render(
        request,
        "shop/home.html",
        {"categories": Category.objects.order_by("name"), "best_sellers": catalog.best_sellers(limit=8)},
    )


@require_GET
def category_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """One category's products, sorted and paginated."""
    category = get_object_or_404(Category, slug=slug)
    sort = catalog.sort_option(request.GET.get("sort"))
    products = catalog.active_products().filter(category=category).order_by(*sort.ordering)
    return render(
        request,
        "shop/category.html",
        {
            "category": category,
            "page_obj": _paginate(request, products, PRODUCTS_PER_PAGE),
            "sort": sort,
            "sort_options": catalog.SORT_OPTIONS.values(),
        },
    )


@require_GET
def product_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A product's page; records a view (with the recommendation id of ``?rec=``, if any)."""
    product = get_object_or_404(catalog.active_products(), pk=pk)
    recommendation_id = request.GET.get("rec", "")[:64]
    _send(product_viewed, sender=Product, request=request, product=product, recommendation_id=recommendation_id)
    in_cart = Cart(request.session).quantity_of(product.pk)
    form = AddToCartForm(initial={"quantity": 1, "rec": recommendation_id})
    return render(
        request,
        "shop/product.html",
        {
            "product": product,
            "form": form,
            "in_cart": in_cart,
            "max_quantity": max(product.stock_on_hand - in_cart, 0),
            "recommendation_id": recommendation_id,
        },
    )


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    """Products whose name, SKU or description match ``?q=``; records the search on its first page."""
    query = " ".join(request.GET.get("q", "").split())[:MAX_QUERY_LENGTH]
    sort = catalog.sort_option(request.GET.get("sort"))
    page_obj = _paginate(request, catalog.search_products(query).order_by(*sort.ordering), PRODUCTS_PER_PAGE)
    if query and request.GET.get("page") in (None, "", "1"):
        _send(search_performed, sender=Product, request=request, query=query)
    return render(
        request,
        "shop/search.html",
        {"query": query, "page_obj": page_obj, "sort": sort, "sort_options": catalog.SORT_OPTIONS.values()},
    )


@require_GET
def cart_detail(request: HttpRequest) -> HttpResponse:
    """The cart's lines and total."""
    lines = Cart(request.session).lines()
    return render(
        request,
        "shop/cart.html",
        {
            "lines": lines,
            "total": Cart.total(lines),
            "line_forms": {line.product.pk: UpdateCartForm(initial={"quantity": line.quantity}) for line in lines},
        },
    )


@require_POST
def cart_add(request: HttpRequest, pk: int) -> HttpResponseRedirect:
    """Add a quantity of a product to the cart; records an add-to-cart event."""
    product = get_object_or_404(catalog.active_products(), pk=pk)
    form = AddToCartForm(request.POST)
    if not form.is_valid():
        messages.error(request, first_error(form))
        return redirect(product)
    quantity = form.cleaned_data["quantity"]
    try:
        Cart(request.session).add(product, quantity)
    except CartError as exc:
        messages.error(request, str(exc))
        return redirect(product)
    _send(
        product_added_to_cart,
        sender=Product,
        request=request,
        product=product,
        quantity=quantity,
        recommendation_id=form.cleaned_data.get("rec") or "",
    )
    messages.success(request, f"Added {quantity} × “{product.name}” to your cart.")
    return HttpResponseRedirect(_safe_next(request, reverse("shop:cart")))


@require_POST
def cart_update(request: HttpRequest, pk: int) -> HttpResponseRedirect:
    """Change a cart line's quantity (zero removes it)."""
    cart = Cart(request.session)
    product = Product.objects.filter(pk=pk).first()
    if product is None or cart.quantity_of(pk) == 0:
        cart.remove(pk)
        messages.error(request, "That product is not in your cart.")
        return redirect("shop:cart")
    form = UpdateCartForm(request.POST)
    if not form.is_valid():
        messages.error(request, first_error(form))
        return redirect("shop:cart")
    try:
        quantity = cart.set(product, form.cleaned_data["quantity"])
    except CartError as exc:
        messages.error(request, str(exc))
        return redirect("shop:cart")
    if quantity:
        messages.success(request, f"Updated “{product.name}” to {quantity}.")
    else:
        messages.success(request, f"Removed “{product.name}” from your cart.")
    return redirect("shop:cart")


@require_POST
def cart_remove(request: HttpRequest, pk: int) -> HttpResponseRedirect:
    """Take a product out of the cart."""
    if Cart(request.session).remove(pk):
        product = Product.objects.filter(pk=pk).only("name").first()
        messages.success(request, f"Removed “{product.name if product else 'the product'}” from your cart.")
    else:
        messages.info(request, "That product was not in your cart.")
    return redirect("shop:cart")


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Create a customer account and sign in with it (then on to ``next``, e.g. the checkout)."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        next_url = ""
    # ``next`` is a path, never a view name for redirect() to reverse
    after = HttpResponseRedirect(next_url) if next_url else redirect("shop:home")
    if request.user.is_authenticated:
        return after
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")  # the cart stays in the session
        messages.success(request, f"Welcome, {user.get_username()}! Your account is ready.")
        return after
    return render(request, "registration/signup.html", {"form": form, "next": next_url})


@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest) -> HttpResponse:
    """Review the cart and place the order (customers only: a guest is sent to log in or sign up, with a word
    why, and keeps the cart); records the purchases."""
    if not request.user.is_authenticated:
        messages.info(request, "Please log in, or create an account, to check out. Your cart is kept.")
        return redirect_to_login(request.get_full_path())
    cart = Cart(request.session)
    lines = cart.lines()
    if not lines:
        messages.info(request, "Your cart is empty.")
        return redirect("shop:cart")
    form = CheckoutForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            messages.error(request, first_error(form))
        else:
            try:
                placed = place_order(customer=request.user, items=cart.items, country=form.cleaned_data["country"],
                                     checkout_token=cart.checkout_token)
            except CheckoutError as exc:
                for problem in exc.problems:
                    messages.error(request, problem)
                return redirect("shop:cart")
            cart.clear()
            order = placed.order
            if placed.created:  # a repeated submit of the same cart places nothing and records nothing
                _send(order_placed, sender=Order, request=request, order=order)
                messages.success(request, f"Thank you! Your order {order.number} has been placed.")
            else:
                messages.info(request, f"Your order {order.number} was already placed.")
            return redirect("shop:order", number=order.number)
    cart.checkout_token  # noqa: B018 - a cart from before tokens gets one with the page, before the submits
    return render(request, "shop/checkout.html", {"lines": lines, "total": Cart.total(lines), "form": form})


def _orders_with_totals(queryset: QuerySet[Order]) -> QuerySet[Order]:
    line_total = ExpressionWrapper(F("lines__quantity") * F("lines__unit_price"), output_field=DecimalField())
    return queryset.annotate(order_total=Sum(line_total), units=Sum("lines__quantity"))


@login_required
@require_GET
def account(request: HttpRequest) -> HttpResponse:
    """The signed-in customer's orders, newest first."""
    orders = _orders_with_totals(Order.objects.filter(customer=request.user)).order_by("-placed_at", "-pk")
    return render(request, "shop/account.html", {"page_obj": _paginate(request, orders, ORDERS_PER_PAGE)})


@login_required
@require_GET
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    """One of the signed-in customer's orders with its lines."""
    order = get_object_or_404(_orders_with_totals(Order.objects.filter(customer=request.user)), number=number)
    lines = order.lines.select_related("product").order_by("pk")
    return render(request, "shop/order.html", {"order": order, "lines": lines})
