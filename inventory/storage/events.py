"""Sending the domain signals (``inventory.signals``) from storage code.

Storage code calls ``emit``. Outside a batch the signal is sent at once. Inside ``deferred()``
(the ingest worker's batch transaction) signals are queued and sent by ``flush()`` just before
the batch commits: still inside the transaction that stored the change, as receivers expect, but
receivers that serialise on a lock held until commit (the event history does) hold it only for
the end of the batch instead of all of it. ``mark``/``rollback`` drop the signals of a command
whose savepoint was rolled back. Node objects are loaded at flush time, with their latest_*
columns as the batch left them.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

# Per thread (a threaded Celery pool runs several batches in one process).
_local = threading.local()


def _get() -> list[tuple] | None:
    return getattr(_local, "queue", None)


def emit(signal, sender, node_id: int | None = None, **kwargs) -> None:
    """Send ``signal`` (with ``node=<Node>`` loaded from ``node_id`` when given)."""
    if not signal.has_listeners():
        return
    queue = _get()
    if queue is not None:
        queue.append((signal, sender, node_id, kwargs))
        return
    if node_id is not None:
        from inventory.models import Node

        kwargs["node"] = Node.objects.get(pk=node_id)
    signal.send(sender=sender, **kwargs)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    previous = _get()
    _local.queue = []
    try:
        yield
    finally:
        _local.queue = previous


def mark() -> int:
    queue = _get()
    return len(queue) if queue is not None else 0


def rollback(position: int) -> None:
    queue = _get()
    if queue is not None:
        del queue[position:]


def flush() -> int:
    """Send the queued signals (in order); returns how many."""
    items = _get()
    if not items:
        return 0
    _local.queue = []
    from inventory.models import Node

    nodes = Node.objects.in_bulk([i[2] for i in items if i[2] is not None])
    for signal, sender, node_id, kwargs in items:
        if node_id is not None:
            kwargs["node"] = nodes.get(node_id)
            if kwargs["node"] is None:
                continue
        signal.send(sender=sender, **kwargs)
    return len(items)
