from django.conf import settings
from django.db import models
from django.utils import timezone


class Department(models.Model):
    title = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.title


class Tag(models.Model):
    label = models.CharField(max_length=50)


class Item(models.Model):
    code = models.CharField(max_length=32, unique=True)
    title = models.CharField(max_length=200)
    blurb = models.TextField(blank=True)
    department = models.ForeignKey(Department, on_delete=models.PROTECT)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    cost = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    stock = models.IntegerField(default=0)
    incoming = models.IntegerField(default=0)
    available = models.BooleanField(default=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="items")

    def __str__(self) -> str:
        return self.title


class Purchase(models.Model):
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=20, blank=True, default="")


class PurchaseLine(models.Model):
    purchase = models.ForeignKey(Purchase, on_delete=models.CASCADE, related_name="lines")
    # like django-oscar's order lines: the line stays when its product is deleted
    item = models.ForeignKey(Item, null=True, blank=True, on_delete=models.SET_NULL)
    qty = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
