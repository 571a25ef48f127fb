"""kombu's Redis transport, made to survive Redis restarts (``CELERY_BROKER_TRANSPORT`` names it).

With ``task_acks_late`` (settings.py), a task that is running when Redis goes away is acknowledged when
it finishes, through the channel it was received on. After a reconnection that channel belongs to the
closed connection: kombu 5.7.0 then builds a connection pool from ``transport.client``, which is None,
and the worker's main process dies with ``Unrecoverable error: AttributeError("'NoneType' object has no
attribute 'hostname'")`` (measured: tests/apps/test_broker_restarts.py, the first restart under event
traffic). This transport turns that case into a Redis ``ConnectionError``, which Celery already handles
for an acknowledgement ("Couldn't ack", logged): the worker keeps running on its new connection, and the
unacknowledged message stays in Redis's unacked index, to be delivered again after the visibility
timeout (every ShopSense task is idempotent). Nothing else changes.

    CELERY_BROKER_TRANSPORT = "personalization.host.broker:Transport"
"""
from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        transport = self.connection
        if transport is None or transport.client is None:
            raise RedisConnectionError("The broker connection of this channel is closed (Redis restarted).")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel
