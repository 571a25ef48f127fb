from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .models import Category


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/home.html", {"categories": Category.objects.all()})
