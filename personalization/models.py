"""Behaviour capture and API access models of the personalization app."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone


class EventType(models.TextChoices):
    VIEW = "view", "Product view"
    CART = "cart", "Add to cart"
    PURCHASE = "purchase", "Purchase"
    SEARCH = "search", "Search"
    IMPRESSION = "impression", "Recommendation impression"
    CLICK = "click", "Recommendation click"


class EventSource(models.TextChoices):
    WEB = "web", "Storefront"
    API = "api", "API"
    ORDER = "order", "Order line"
    IMPORT = "import", "Import"


class Event(models.Model):
    """One thing a shopper did. Append-only; ``client_event_id`` makes every write idempotent."""

    event_type = models.CharField(max_length=16, choices=EventType.choices)
    # The FKs' own indexes are left out: the composite indexes below start with them.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    session_key = models.CharField(max_length=64, blank=True, help_text="Visitor id of a guest (or before login).")
    product = models.ForeignKey(
        settings.SHOP_PRODUCT_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    quantity = models.PositiveIntegerField(default=1)
    price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    query = models.CharField(max_length=255, blank=True)
    recommendation_id = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=16, choices=EventSource.choices, default=EventSource.WEB)
    client_event_id = models.CharField(max_length=100, unique=True)
    timestamp = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-timestamp", "-id")
        indexes = [
            models.Index(fields=["user", "timestamp"], name="pers_event_user_ts"),
            models.Index(fields=["session_key", "timestamp"], name="pers_event_session_ts"),
            models.Index(fields=["product", "event_type", "timestamp"], name="pers_event_product_ts"),
            models.Index(fields=["event_type", "timestamp"], name="pers_event_type_ts"),
            models.Index(fields=["recommendation_id"], name="pers_event_rec"),
            # The admin's search for a query (any case); most events have none.
            models.Index(Lower("query"), name="pers_event_query", condition=~Q(query="")),
            # The admin's default ordering: newest first.
            models.Index(fields=["timestamp", "id"], name="pers_event_ts"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False) | ~Q(session_key=""), name="pers_event_has_actor"
            ),
        ]

    def __str__(self) -> str:
        who = f"user {self.user_id}" if self.user_id else f"visitor {self.session_key[:8]}"
        what = f"product {self.product_id}" if self.product_id else repr(self.query)
        return f"{self.get_event_type_display()} of {what} by {who}"


class EventId(models.Model):
    """The ``client_event_id`` of every stored event, on a partitioned PostgreSQL events table only.

    A partitioned table cannot keep ``client_event_id`` UNIQUE (a unique index must contain the partition
    key), so this table keeps each id once instead (see ``capture/partitions.py``); empty elsewhere.
    """

    client_event_id = models.CharField(max_length=100, primary_key=True)
    timestamp = models.DateTimeField(help_text="The event's timestamp (retention forgets ids with their events).")

    class Meta:
        verbose_name = "stored event id"
        indexes = [models.Index(fields=["timestamp"], name="pers_eventid_ts")]

    def __str__(self) -> str:
        return self.client_event_id


class ApiKey(models.Model):
    """A server-to-server credential for the events API. Only a SHA-256 hash of the key is stored."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


# --- Customer profiles and segments ---------------------------------------------------------------
class RFMSegment(models.TextChoices):
    """The named RFM segments (score-range rules of the R package ``rfm``; see ``ml/rfm.py``)."""

    CHAMPIONS = "champions", "Champions"
    POTENTIAL_LOYALIST = "potential_loyalist", "Potential Loyalist"
    LOYAL_CUSTOMERS = "loyal_customers", "Loyal Customers"
    PROMISING = "promising", "Promising"
    NEW_CUSTOMERS = "new_customers", "New Customers"
    CANT_LOSE_THEM = "cant_lose_them", "Can't Lose Them"
    AT_RISK = "at_risk", "At Risk"
    NEED_ATTENTION = "need_attention", "Need Attention"
    ABOUT_TO_SLEEP = "about_to_sleep", "About To Sleep"
    LOST = "lost", "Lost"
    OTHERS = "others", "Others"


class BuyerType(models.TextChoices):
    RETAIL = "retail", "Retail"
    WHOLESALE = "wholesale", "Wholesale"


class ProfileBuild(models.Model):
    """One rebuild of all customer profiles and segments: its progress, and what later updates reuse.

    ``model_state`` keeps what an incremental update needs to score one customer like the rebuild
    did (RFM cut points, typical category prices, CLV parameters, the segmenter's scaler, centroids
    and principal axes); ``points`` is a sample of the 2-D projection for the scatter plot.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    stage = models.CharField(max_length=100, blank=True)
    message = models.TextField(blank=True)
    trigger = models.CharField(max_length=32, blank=True, help_text="manual, schedule, command or api.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    as_of = models.DateTimeField(null=True, blank=True, help_text="Reference time of recency and customer age.")
    data_until = models.DateTimeField(null=True, blank=True, help_text="Time of the latest order line read.")
    customers = models.PositiveIntegerField(default=0)
    lines = models.PositiveIntegerField(default=0)
    k = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Number of clusters.")
    silhouette = models.FloatField(null=True, blank=True)
    silhouette_by_k = models.JSONField(default=dict, blank=True)
    explained_variance = models.JSONField(default=list, blank=True)
    clv_params = models.JSONField(default=dict, blank=True)
    model_state = models.JSONField(default=dict, blank=True)
    points = models.JSONField(default=list, blank=True, help_text="Sample of [x, y, cluster] for the scatter plot.")

    class Meta:
        ordering = ("-created_at", "-id")
        get_latest_by = "created_at"

    def __str__(self) -> str:
        return f"Profile build {self.pk} ({self.get_status_display()}, {self.progress}%)"

    @property
    def is_active(self) -> bool:
        return self.status in {self.Status.PENDING, self.Status.RUNNING}


class Segment(models.Model):
    """One K-means cluster of a build; ``cluster_id`` stays the same across builds for the same group."""

    build = models.ForeignKey(ProfileBuild, on_delete=models.CASCADE, related_name="segments")
    cluster_id = models.PositiveSmallIntegerField()
    label = models.CharField(max_length=200, help_text="The centroid in words.")
    size = models.PositiveIntegerField()
    share = models.FloatField(help_text="Share of the build's customers.")
    centroid = models.JSONField(default=dict, help_text="Centre in the features' own units.")
    centroid_z = models.JSONField(default=dict, help_text="Centre in standard deviations from the mean.")

    class Meta:
        ordering = ("build", "cluster_id")
        constraints = [models.UniqueConstraint(fields=["build", "cluster_id"], name="pers_segment_build_cluster")]

    def __str__(self) -> str:
        return f"Cluster {self.cluster_id}: {self.label}"


class CustomerProfile(models.Model):
    """What a customer's purchases say about them; rebuilt nightly, updated when they order."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer_profile")
    build = models.ForeignKey(ProfileBuild, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    first_purchase_at = models.DateTimeField()
    last_purchase_at = models.DateTimeField()
    orders = models.PositiveIntegerField()
    purchase_days = models.PositiveIntegerField(help_text="Distinct days with an order (the CLV models' purchases).")
    lines = models.PositiveIntegerField()
    units = models.PositiveBigIntegerField()
    revenue = models.DecimalField(max_digits=14, decimal_places=2)
    average_order_value = models.DecimalField(max_digits=14, decimal_places=2)
    average_basket_units = models.FloatField()
    buyer_type = models.CharField(max_length=16, choices=BuyerType.choices)
    recency_days = models.PositiveIntegerField(help_text="Days from the last purchase to the build's reference time.")
    recency_score = models.PositiveSmallIntegerField(null=True, blank=True)
    frequency_score = models.PositiveSmallIntegerField(null=True, blank=True)
    monetary_score = models.PositiveSmallIntegerField(null=True, blank=True)
    rfm_segment = models.CharField(max_length=32, choices=RFMSegment.choices, blank=True, db_index=True)
    category_affinity = models.JSONField(default=dict, blank=True, help_text="Share of spend per category.")
    top_category = models.CharField(max_length=200, blank=True)
    price_index = models.FloatField(
        null=True, blank=True, help_text="Mean of price paid / the category's median price paid (1 = typical)."
    )
    discount_share = models.FloatField(
        null=True, blank=True, help_text="Share of order lines bought below the product's list price."
    )
    expected_purchases_90d = models.FloatField(null=True, blank=True)
    probability_alive = models.FloatField(null=True, blank=True)
    expected_order_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    clv_90d = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    cluster = models.PositiveSmallIntegerField(null=True, blank=True, db_index=True)
    pca_x = models.FloatField(null=True, blank=True)
    pca_y = models.FloatField(null=True, blank=True)
    applied_orders = models.JSONField(
        default=list, blank=True, help_text="Orders added by incremental updates since the last rebuild."
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-revenue", "id")
        indexes = [models.Index(fields=["cluster", "rfm_segment"], name="pers_profile_cluster_rfm")]

    def __str__(self) -> str:
        return f"Profile of user {self.user_id}"

    @property
    def scores(self) -> str:
        """The three RFM scores as one code such as ``"545"`` (empty before the first rebuild)."""
        if None in (self.recency_score, self.frequency_score, self.monetary_score):
            return ""
        return f"{self.recency_score}{self.frequency_score}{self.monetary_score}"


# --- Model registry -------------------------------------------------------------------------------
class ModelVersion(models.Model):
    """One trained model of any ShopSense app: what it was trained on, how good it is, where it lies.

    At most one version per ``kind`` is active; activation is atomic (see ``personalization.ops.registry``).
    """

    class Status(models.TextChoices):
        TRAINING = "training", "Training"
        READY = "ready", "Ready"
        ACTIVE = "active", "Active"
        FAILED = "failed", "Failed"
        RETIRED = "retired", "Retired"

    kind = models.CharField(max_length=64, help_text='What the model is for, e.g. "recommender.hybrid".')
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.TRAINING)
    params = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True, help_text="What the artifact's loader needs besides arrays.")
    library_versions = models.JSONField(default=dict, blank=True)
    data_start = models.DateTimeField(null=True, blank=True)
    data_end = models.DateTimeField(null=True, blank=True)
    artifact = models.CharField(max_length=255, blank=True, help_text="Path of the .npz in the default storage.")
    artifact_sha256 = models.CharField(max_length=64, blank=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done while training.")
    stage = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    trained_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        get_latest_by = "created_at"
        indexes = [models.Index(fields=["kind", "status"], name="pers_modelversion_kind")]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"], condition=Q(status="active"), name="pers_modelversion_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} v{self.pk} ({self.get_status_display()})"


# --- Recommendations --------------------------------------------------------------------------------
class RecommendationList(models.Model):
    """A top-N list precomputed by a training run: a customer's own (``user``) or a shared one (``key``:
    ``popular``, ``category:<name>``, ``segment:<cluster>``). Serving applies the request-time rules."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    key = models.CharField(max_length=255, blank=True, help_text="Name of a shared list; empty for a customer's.")
    placement = models.CharField(max_length=32)
    items = models.JSONField(default=list, help_text="Product ids, best first.")
    scores = models.JSONField(default=list)
    sources = models.JSONField(default=list, help_text="Why each item is in the list.")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="recommendation_lists")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=["user", "placement", "model_version"], name="pers_reclist_user"),
            models.Index(fields=["key", "placement", "model_version"], name="pers_reclist_key"),
        ]

    def __str__(self) -> str:
        who = f"user {self.user_id}" if self.user_id else self.key
        return f"{self.placement} of {who} ({len(self.items)} items)"
