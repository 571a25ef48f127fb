"""URLs of the demo storefront (namespace ``shop``)."""
from django.urls import path

from . import views

app_name = "shop"

urlpatterns = [
    path("", views.home, name="home"),
    path("category/<slug:slug>/", views.category_detail, name="category"),
    path("product/<int:pk>/", views.product_detail, name="product"),
    path("search/", views.search, name="search"),
    path("cart/", views.cart_detail, name="cart"),
    path("cart/add/<int:pk>/", views.cart_add, name="cart-add"),
    path("cart/update/<int:pk>/", views.cart_update, name="cart-update"),
    path("cart/remove/<int:pk>/", views.cart_remove, name="cart-remove"),
    path("checkout/", views.checkout, name="checkout"),
    path("signup/", views.signup, name="signup"),
    path("account/", views.account, name="account"),
    path("account/orders/<str:number>/", views.order_detail, name="order"),
]
