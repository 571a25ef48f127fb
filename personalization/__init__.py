"""ShopSense personalization: the base app — the host contract, behaviour capture, customer profiles and
recommendations. ``pricing`` and ``inventory`` require it.

One folder per concern:

- ``host/`` — the contract with the shop: its models (``get_product_model()`` …), the adapter that reads
  and writes shop facts, the settings dict, system checks, and what a host names in its own settings
  (Celery routing, the fail-safe cache backend, the JSON log formatter);
- ``capture/`` — events from signals and the events API, the Redis buffer and its flush;
- ``profiles/`` — RFM, lifetime value and clusters per customer, rebuilt nightly and after each order;
- ``recommending/`` — training, evaluation and serving of the recommendation lists;
- ``ops/`` — what the three apps share to run jobs: the Redis connection, job locks, the model-version
  registry, enqueueing by task name, the health report, default schedules, admin action permissions;
- ``api/`` (DRF views), ``ml/`` (models without Django), ``templatetags/``, ``management/`` (commands);
- ``contrib/`` — ready-made integrations with shop frameworks (``contrib/oscar``: django-oscar), each an
  app of its own that a host adds to ``INSTALLED_APPS``.

``models.py``, ``admin.py``, ``signals.py``, ``tasks.py``, ``worker.py`` (the Celery app) and ``urls.py``
stay where Django, Celery and hosts look for them. Imports flow one way (tasks call services; services
enqueue by task name), and ``tests/test_import_graph.py`` fails on any import circle.
"""
