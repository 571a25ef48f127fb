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
_CACHE_ATTRIBUTE = "_personalization_profile"
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
