"""Background work on Celery and Redis: the dispatcher and the sends it enqueues."""
