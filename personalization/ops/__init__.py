"""What the three apps share to run their jobs: the Redis connection (``redis_conn``), job locks
(``locks``), enqueueing a task by name (``jobs``), the model-version registry with atomic activation
(``registry``), the health report and worker heartbeats (``health``, ``tasks``), the default beat
schedules (``schedules``) and admin actions that check permissions (``admin_actions``)."""
