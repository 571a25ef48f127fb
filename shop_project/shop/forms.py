"""Forms of the demo storefront: they only validate what the shopper typed."""
from __future__ import annotations

from django import forms

from .cart import MAX_LINE_QUANTITY


class AddToCartForm(forms.Form):
    """How many to add; at least one."""

    quantity = forms.IntegerField(
        min_value=1,
        max_value=MAX_LINE_QUANTITY,
        initial=1,
        error_messages={"invalid": "Enter a whole number for the quantity."},
        widget=forms.NumberInput(attrs={"class": "qty-input", "inputmode": "numeric"}),
    )
    rec = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)


class UpdateCartForm(forms.Form):
    """The new quantity of a cart line; zero removes it."""

    quantity = forms.IntegerField(
        min_value=0,
        max_value=MAX_LINE_QUANTITY,
        error_messages={"invalid": "Enter a whole number for the quantity."},
        widget=forms.NumberInput(attrs={"class": "qty-input", "inputmode": "numeric"}),
    )


class CheckoutForm(forms.Form):
    """Where the order goes (the demo takes no payment)."""

    country = forms.CharField(max_length=64, initial="United Kingdom")


def first_error(form: forms.Form) -> str:
    """The first validation message of a bound, invalid form, prefixed by its field's label."""
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        if field is None:
            return str(errors[0])
        label = field.label or name.replace("_", " ").capitalize()
        return f"{label}: {errors[0]}"
    return "Please check your input."
