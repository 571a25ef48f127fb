"""Template tags of the personalization app.

Load with ``{% load personalization_tags %}``.

Customer segments::

    {% customer_segment as seg %}
    {% if seg.rfm == "champions" %}Thank you for being one of our best customers!{% endif %}

    {% if_segment "Champions" "Loyal Customers" %}
      <p>Early access to the sale.</p>
    {% else %}
      <p>Sign up for the newsletter.</p>
    {% endif_segment %}

A segment name matches the RFM segment by code (``champions``) or name (``Champions``), any case;
``cluster:3`` matches a K-means cluster, ``wholesale`` / ``retail`` the buyer type, ``none`` a visitor
without a profile (not signed in, or no purchase yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import template
from django.http import HttpRequest

from ..models import CustomerProfile, RFMSegment

register = template.Library()


@register.filter
def money(value: Any) -> str:
    """``{{ price|money }}``: the price with the shop's currency, in the active locale (see host.money)."""
    from ..host.money import format_price

    return format_price(value)
_CACHE_ATTRIBUTE = "_personalization_profile"
_SHOWN_ATTRIBUTE = "_personalization_shown_products"
_MISSING = object()


@dataclass(frozen=True)
class SegmentInfo:
    """The visitor's segments as templates see them; empty strings when there is no profile."""

    rfm: str = ""
    rfm_name: str = ""
    cluster: int | None = None
    buyer_type: str = ""

    def __str__(self) -> str:
        return self.rfm_name

    def __bool__(self) -> bool:
        return bool(self.rfm or self.buyer_type)

    def matches(self, name: str) -> bool:
        """Whether ``name`` (a segment code or name, ``cluster:N``, a buyer type or ``none``) applies."""
        wanted = str(name).strip().lower()
        if wanted == "none":
            return not self
        if wanted.startswith("cluster:"):
            return self.cluster is not None and wanted[len("cluster:") :].strip() == str(self.cluster)
        return wanted in {self.rfm, self.rfm_name.lower(), self.buyer_type} - {""}


def _profile_for(request: HttpRequest | None) -> CustomerProfile | None:
    """The signed-in visitor's profile, read at most once per request."""
    if request is None:
        return None
    cached = getattr(request, _CACHE_ATTRIBUTE, _MISSING)
    if cached is not _MISSING:
        return cached  # type: ignore[return-value]
    user = getattr(request, "user", None)
    profile = None
    if user is not None and getattr(user, "is_authenticated", False) and getattr(user, "pk", None):
        profile = CustomerProfile.objects.filter(user_id=user.pk).only("rfm_segment", "cluster", "buyer_type").first()
    setattr(request, _CACHE_ATTRIBUTE, profile)
    return profile


def segment_info(request: HttpRequest | None) -> SegmentInfo:
    """The :class:`SegmentInfo` of the request's signed-in customer."""
    profile = _profile_for(request)
    if profile is None:
        return SegmentInfo()
    names = dict(RFMSegment.choices)
    return SegmentInfo(
        rfm=profile.rfm_segment,
        rfm_name=str(names.get(profile.rfm_segment, "")),
        cluster=profile.cluster,
        buyer_type=profile.buyer_type,
    )


@register.simple_tag(takes_context=True)
def customer_segment(context: template.Context) -> SegmentInfo:
    """``{% customer_segment as seg %}``: the visitor's RFM segment (``seg.rfm``, ``seg.rfm_name``),
    cluster (``seg.cluster``) and buyer type (``seg.buyer_type``)."""
    return segment_info(context.get("request"))


class IfSegmentNode(template.Node):
    def __init__(self, names: list[Any], nodelist_true: template.NodeList, nodelist_false: template.NodeList):
        self.names = names
        self.nodelist_true = nodelist_true
        self.nodelist_false = nodelist_false

    def render(self, context: template.Context) -> str:
        info = segment_info(context.get("request"))
        wanted = [str(name.resolve(context)) for name in self.names]
        nodelist = self.nodelist_true if any(info.matches(name) for name in wanted) else self.nodelist_false
        return nodelist.render(context)


@register.tag("if_segment")
def do_if_segment(parser: template.base.Parser, token: template.base.Token) -> IfSegmentNode:
    """``{% if_segment "Champions" "cluster:2" %}...{% else %}...{% endif_segment %}``."""
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError(f"{bits[0]} needs at least one segment name.")
    names = [parser.compile_filter(bit) for bit in bits[1:]]
    nodelist_true = parser.parse(("else", "endif_segment"))
    token = parser.next_token()
    if token.contents == "else":
        nodelist_false = parser.parse(("endif_segment",))
        parser.delete_first_token()
    else:
        nodelist_false = template.NodeList()
    return IfSegmentNode(names, nodelist_true, nodelist_false)


# --- Recommendations ------------------------------------------------------------------------------
# {% recommendations "for_you" limit=8 %}   {% similar_items product %}   {% bought_together product %}
# {% bought_together cart_lines %}          {% recently_viewed %}           {% best_sellers category="Garden" %}
# Each renders personalization/widgets/<placement>.html; every link carries ?rec=<recommendation id>.
WIDGET_TITLES = {
    "for_you": "Recommended for you",
    "similar": "Similar products",
    "bought_together": "Frequently bought together",
    "recently_viewed": "Recently viewed",
    "best_sellers": "Best sellers",
}


def _product_ids(products: Any) -> list[int]:
    """Ids of a product, a list of products, or cart lines with a ``product``."""
    if products is None or products == "":
        return []
    many = [products] if hasattr(products, "pk") else products
    ids = []
    for entry in many:
        product = getattr(entry, "product", entry)
        pk = getattr(product, "pk", None)
        if pk is not None:
            ids.append(int(pk))
    return ids


def _widget_context(context: template.Context, placement: str, products: Any = None, limit: int = 8,
                    category: str | None = None, title: str | None = None, exclude_bought: bool = False,
                    per_category: int | None = None) -> dict[str, Any]:
    import logging

    from ..capture.visitor import get_visitor_id
    from ..host.adapters import get_adapter
    from ..recommending import serving

    request = context.get("request")
    user = getattr(request, "user", None)
    ids = _product_ids(products)
    empty = {"recs": None, "items": [], "title": title or WIDGET_TITLES[placement]}
    if placement in {"similar", "bought_together"} and not ids:
        return empty
    # Products the widgets above on this page show already: each widget fills its list past them.
    shown: set[int] = getattr(request, _SHOWN_ATTRIBUTE, set()) if request is not None else set()
    try:
        recs = serving.recommend(
            placement, user=user, session_key=get_visitor_id(request) if request is not None else "",
            product_ids=ids, limit=int(limit), category=category or None, exclude_bought=exclude_bought,
            per_category=per_category, skip=() if placement == "recently_viewed" else shown,  # a history is literal
        )
    except Exception:  # noqa: BLE001 - a widget never breaks the page around it
        logging.getLogger(__name__).exception("Recommendations widget %s failed.", placement)
        return empty
    adapter = get_adapter()
    items = []
    for item in recs:
        if item.product is None:  # deleted since the list was cached
            continue
        get_url = getattr(item.product, "get_absolute_url", None)
        try:
            price = adapter.get_price(item.product)
        except Exception:  # noqa: BLE001
            price = None
        items.append({
            "product": item.product, "product_id": item.product_id, "source": item.source, "price": price,
            "name": adapter.get_name(item.product),
            "url": f"{get_url()}?rec={recs.id}" if get_url else "",
        })
    if request is not None:
        setattr(request, _SHOWN_ATTRIBUTE, shown | {item["product_id"] for item in items})
    return {"recs": recs, "items": items, "title": title or WIDGET_TITLES[placement], "request": request}


@register.simple_tag(takes_context=True)
def recommendations(context: template.Context, placement: str, product: Any = None, limit: int = 8,
                    category: str | None = None, title: str | None = None, exclude_bought: bool = False,
                    per_category: int | None = None) -> str:
    """``{% recommendations "for_you" limit=8 %}``: any placement's widget (``product=`` for similar and
    bought together), rendered with ``personalization/widgets/<placement>.html``."""
    from django.template.loader import render_to_string

    if placement not in WIDGET_TITLES:
        choices = ", ".join(WIDGET_TITLES)
        raise template.TemplateSyntaxError(f"Unknown placement {placement!r}; choose one of {choices}.")
    data = _widget_context(context, placement, product, limit, category, title, exclude_bought, per_category)
    return render_to_string(f"personalization/widgets/{placement}.html", data, request=context.get("request"))


@register.simple_tag(takes_context=True)
def similar_items(context: template.Context, product: Any, limit: int = 8, title: str | None = None) -> str:
    """``{% similar_items product %}``: products like this one."""
    return recommendations(context, "similar", product=product, limit=limit, title=title)


@register.simple_tag(takes_context=True)
def bought_together(context: template.Context, products: Any, limit: int = 4, title: str | None = None) -> str:
    """``{% bought_together product %}`` or ``{% bought_together cart_lines %}``: co-purchases (lift > 1)."""
    return recommendations(context, "bought_together", product=products, limit=limit, title=title)


@register.simple_tag(takes_context=True)
def recently_viewed(context: template.Context, limit: int = 8, title: str | None = None) -> str:
    """``{% recently_viewed %}``: what this visitor looked at lately."""
    return recommendations(context, "recently_viewed", limit=limit, title=title)


@register.simple_tag(takes_context=True)
def best_sellers(context: template.Context, category: str | None = None, limit: int = 8,
                 title: str | None = None, product: Any = None) -> str:
    """``{% best_sellers category="Garden" %}``: the best sellers, overall or of one category
    (``product=`` leaves out the product of the page)."""
    return recommendations(context, "best_sellers", product=product, category=category, limit=limit, title=title)
