from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from pricing import services
from pricing.models import PriceChange, PriceSuggestion, PricingSettings
from tests.apps.test_pricing_support import make_item, make_policy

pytestmark = pytest.mark.django_db
SUGGESTIONS = "admin:pricing_pricesuggestion_changelist"


@pytest.fixture
def suggestion():
    item = make_item(price="10.00")
    make_policy(absolute_floor=Decimal("10.99"), ceiling=Decimal("10.99"))
    return services.generate_suggestions([item]).created[0]


def _staff(django_user_model, *perms: str):
    user = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=perms))
    return user


def _act(client, url_name, action, pks, **extra):
    return client.post(reverse(url_name), {"action": action, "_selected_action": pks, **extra}, follow=True)


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_staff_with_permission_approve_and_apply_in_one_action(admin_client, suggestion):
    response = _act(admin_client, SUGGESTIONS, "apply_selected", [suggestion.pk])

    suggestion.refresh_from_db()
    assert _messages(response) == ["1 suggestion(s) applied."]
    assert suggestion.status == "applied"
    assert PriceChange.objects.get().new_price == Decimal("10.99")


@pytest.mark.parametrize(
    "perms, action_allowed",
    [
        (("view_pricesuggestion",), False),
        (("view_pricesuggestion", "change_pricesuggestion"), False),  # applying also writes the history
        (("view_pricesuggestion", "change_pricesuggestion", "add_pricechange"), True),
    ],
)
def test_applying_needs_the_model_permissions(client, django_user_model, suggestion, perms, action_allowed):
    client.force_login(_staff(django_user_model, *perms))

    _act(client, SUGGESTIONS, "apply_selected", [suggestion.pk])

    suggestion.refresh_from_db()
    assert suggestion.status == ("applied" if action_allowed else "pending")


def test_rejecting_asks_for_a_reason_then_records_it(admin_client, suggestion):
    form = _act(admin_client, SUGGESTIONS, "reject_selected", [suggestion.pk])
    assert form.templates[0].name == "admin/pricing/pricesuggestion/reject.html"

    _act(admin_client, SUGGESTIONS, "reject_selected", [suggestion.pk], reason="Competitor is cheaper")

    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.reason) == ("rejected", "Competitor is cheaper")


def test_a_tripped_circuit_breaker_shows_as_an_admin_message(admin_client, suggestion):
    row = PricingSettings.load()
    row.breaker_max_change = Decimal("0.05")
    row.save()

    response = _act(admin_client, SUGGESTIONS, "apply_selected", [suggestion.pk])

    assert response.status_code == 200
    assert len(_messages(response)) == 1
    assert "Circuit breaker: change of +9.9% exceeds the circuit breaker's 5%" in _messages(response)[0]
    assert PriceChange.objects.count() == 0


def test_the_pause_switch_is_edited_in_place_and_stops_applying(admin_client, suggestion):
    settings_page = admin_client.get(reverse("admin:pricing_pricingsettings_changelist"), follow=True)
    url = settings_page.redirect_chain[-1][0]
    admin_client.post(url, {"paused": "on", "breaker_max_change": "0.25"})

    response = _act(admin_client, SUGGESTIONS, "apply_selected", [suggestion.pk])

    assert services.is_paused() is True
    assert (
        _messages(response)[-1]
        == f"#{suggestion.pk}: Pricing is paused: no price is changed until the pause switch is turned off."
    )


def test_a_change_is_rolled_back_from_the_history_which_cannot_be_edited(admin_client, suggestion):
    change = services.apply_suggestion(suggestion)

    edit = admin_client.post(reverse("admin:pricing_pricechange_change", args=[change.pk]), {"new_price": "1.00"})
    delete = admin_client.post(reverse("admin:pricing_pricechange_delete", args=[change.pk]), {"post": "yes"})
    response = _act(admin_client, "admin:pricing_pricechange_changelist", "roll_back", [change.pk])

    assert (edit.status_code, delete.status_code) == (403, 403)
    assert _messages(response) == ["1 change(s) rolled back."]
    assert list(PriceChange.objects.order_by("id").values_list("new_price", "source")) == [
        (Decimal("10.99"), "suggestion"),
        (Decimal("10.00"), "rollback"),
    ]


def test_the_history_chart_marks_the_suggestions(admin_client, suggestion):
    services.apply_suggestion(suggestion)

    response = admin_client.get(reverse("admin:pricing_pricechange_chart", args=[suggestion.product_id]))

    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="suggestion suggestion-applied"') == 1
    assert 'class="price-line"' in html


def test_a_policy_with_a_floor_above_its_ceiling_is_refused_with_a_message(admin_client):
    response = admin_client.post(
        reverse("admin:pricing_pricingpolicy_add"),
        {
            "scope": "global",
            "absolute_floor": "12.00",
            "ceiling": "10.00",
            "strategy": "hold",
            "mode": "suggest",
            "is_active": "on",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "absolute_floor": ["The absolute floor (12.00) is above the ceiling (10.00): no price could satisfy both."]
    }


def test_suggestions_list_and_detail_render(admin_client, suggestion):
    listing = admin_client.get(reverse(SUGGESTIONS))
    detail = admin_client.get(reverse("admin:pricing_pricesuggestion_change", args=[suggestion.pk]))

    assert (listing.status_code, detail.status_code) == (200, 200)
    assert "<td>floor-absolute</td>" in detail.content.decode()
    assert PriceSuggestion.objects.get().status == "pending"


def test_staff_can_queue_a_refit_now(admin_client, django_capture_on_commit_callbacks):
    make_item(price="5.00", cost="5.00")
    make_policy()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(reverse("admin:pricing_pricesuggestion_refit"), follow=True)

    assert len(callbacks) == 1
    assert _messages(response) == ["Refitting the elasticities and suggesting prices; new suggestions appear here."]
    assert PriceSuggestion.objects.get().suggested_price == Decimal("5.50")  # cost 5.00 + 10 % margin


def test_a_refit_needs_a_post_and_the_permission(client, django_user_model):
    client.force_login(_staff(django_user_model, "view_pricesuggestion"))

    assert client.get(reverse("admin:pricing_pricesuggestion_refit")).status_code == 405
    assert client.post(reverse("admin:pricing_pricesuggestion_refit")).status_code == 403


SETTINGS_PAGE = "admin:pricing_pricingsettings_changelist"


@pytest.mark.parametrize(("perms", "status", "row_created"), [
    ((), 403, False),                              # staff without permissions: refused, nothing written
    (("view_pricingsettings",), 200, False),       # may look, may not create the row
    (("change_pricingsettings",), 302, True),      # may change: the row is created with the defaults
], ids=["no-permissions", "view-only", "change"])
def test_the_settings_page_checks_permissions_before_creating_the_row(client, django_user_model, perms, status,
                                                                      row_created):
    client.force_login(_staff(django_user_model, *perms))

    response = client.get(reverse(SETTINGS_PAGE))

    assert response.status_code == status
    assert PricingSettings.objects.exists() is row_created


def _listed(client, **query) -> list[str]:
    response = client.get(reverse(SUGGESTIONS), query)
    assert response.status_code == 200
    return [s.product.code for s in response.context["cl"].result_list]


@pytest.fixture
def three_suggestions():
    """A1: +1.0 a week, 80 %, -10 %; B2: +25.0, 40 %, +3 %; C3: no expected profit, 60 %, +1 %."""
    rows = [("A1", "Beeswax Candle", "10.00", "9.00", "1.00", 0.8),
            ("B2", "Glass Lantern", "10.00", "10.30", "25.00", 0.4),
            ("C3", "Metal Lantern", "10.00", "10.10", None, 0.6)]
    for code, title, current, suggested, gain, confidence in rows:
        item = make_item(code=code)
        item.title = title
        item.save()
        PriceSuggestion.objects.create(
            product=item, strategy="hold", current_price=Decimal(current), suggested_price=Decimal(suggested),
            expected_profit_current=None if gain is None else Decimal("10.00"),
            expected_profit_suggested=None if gain is None else Decimal("10.00") + Decimal(gain),
            confidence=confidence, binding_rule="max-change",
            clamp_trail=[{"rule": "max-change", "before": 12.0, "after": float(suggested) + 0.01, "status": "clamped"},
                         {"rule": "price-ending", "before": float(suggested) + 0.01, "after": float(suggested),
                          "status": "clamped"}],
        )


@pytest.mark.parametrize(
    ("query", "codes"),
    [
        ({"q": "lantern"}, ["B2", "C3"]),
        ({"q": "a1"}, ["A1"]),
        ({"o": "5"}, ["C3", "A1", "B2"]),  # Δ profit / week, ascending (no expected profit first)
        ({"o": "-5"}, ["B2", "A1", "C3"]),
        ({"o": "6"}, ["B2", "C3", "A1"]),  # confidence
        ({"o": "-4"}, ["A1", "B2", "C3"]),  # size of change, largest first (-10 % before +3 %)
        ({"gain": "10"}, ["B2"]),
        ({"gain": "1"}, ["A1", "B2"]),
        ({"gain": "none"}, ["C3"]),
        ({"change": "large"}, ["A1"]),
        ({"change": "medium"}, ["B2"]),
        ({"change": "small"}, ["C3"]),
    ],
)
def test_suggestions_are_searched_filtered_and_sorted(admin_client, three_suggestions, query, codes):
    listed = _listed(admin_client, **query)

    assert listed == codes if "o" in query else sorted(listed) == codes


def test_the_rounding_shows_apart_from_the_binding_rule(admin_client, three_suggestions):
    response = admin_client.get(reverse(SUGGESTIONS), {"q": "a1"})

    row = response.content.decode()
    assert '<td class="field-binding_rule">max-change</td>' in row
    assert '<td class="field-rounding">-0.01</td>' in row
