"""One LISTEN connection per process, shared by every waiting request.

Long-polls and event streams must not hold a database connection while they sleep. Instead a
single background thread per process keeps one connection that ``LISTEN``s on
``stagehand_events`` and wakes the waiting request threads (``threading.Condition``); the
requests only touch the database to re-evaluate after a relevant notification (or after a
fallback poll interval when the listener is not connected).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque

import psycopg
from django.db import connections

from reports.orchestration.events import CHANNEL

log = logging.getLogger(__name__)


def _conninfo(alias: str = "default") -> dict:
    settings_dict = connections[alias].settings_dict
    params = {"dbname": settings_dict["NAME"], "autocommit": True}
    for key, name in (("USER", "user"), ("PASSWORD", "password"), ("HOST", "host"), ("PORT", "port")):
        if settings_dict.get(key):
            params[name] = settings_dict[key]
    params["connect_timeout"] = settings_dict.get("OPTIONS", {}).get("connect_timeout", 5)
    params["application_name"] = f"stagehand-hooks-listener {os.getpid()}"
    return params


class Hub:
    def __init__(self, recent: int = 8192):
        self._cond = threading.Condition()
        self._seq = 0
        self._recent: deque[tuple[int, str]] = deque(maxlen=recent)
        self._thread: threading.Thread | None = None
        self._listening = threading.Event()
        self._stop = threading.Event()
        self._pid = None

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    @property
    def seq(self) -> int:
        with self._cond:
            return self._seq

    def ensure_started(self, timeout: float = 3.0) -> bool:
        """Start the listener thread once per process; wait (bounded) until it listens, so a
        caller that evaluates after this cannot miss a notification. Returns whether it listens."""
        with self._cond:
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                self._pid = os.getpid()
                self._listening.clear()
                self._thread = threading.Thread(target=self._run, name="hooks-listener", daemon=True)
                self._thread.start()
        return self._listening.wait(timeout)

    def _run(self) -> None:
        stop = self._stop
        while not stop.is_set():
            try:
                with psycopg.connect(**_conninfo()) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    self._wake(None)
                    while not stop.is_set():
                        for notify in conn.notifies(timeout=2.0):
                            self._wake(notify.payload)
                        conn.execute("SELECT 1")  # detect a dead connection
            except Exception as exc:  # noqa: BLE001 - reconnect after a pause
                log.warning("hooks listener disconnected: %s", exc)
            self._listening.clear()
            self._wake(None)
            stop.wait(1.0)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the listener (tests call it so the test database can be dropped)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread.is_alive():
            thread.join(timeout)
        self._thread = None
        self._stop = threading.Event()

    def _wake(self, payload: str | None) -> None:
        with self._cond:
            self._seq += 1
            certname = ""
            if payload:
                parts = payload.split(" ", 2)
                certname = parts[2] if len(parts) == 3 else ""
            self._recent.append((self._seq, certname))
            self._cond.notify_all()

    def changed_since(self, after: int) -> set[str] | None:
        """Certnames notified after ``after``; None when that is not known exactly (the window
        overflowed, or a notification without a certname, e.g. a listener reconnection)."""
        with self._cond:
            oldest = self._recent[0][0] if self._recent else self._seq + 1
            if self._seq > after and after + 1 < oldest:
                return None
            names = set()
            for seq, certname in reversed(self._recent):
                if seq <= after:
                    break
                if not certname:
                    return None
                names.add(certname)
            return names

    def wait(self, after: int, timeout: float, interest: set[str] | None = None) -> int | None:
        """Block until a notification newer than ``after`` arrives (one about a certname in
        ``interest``, when given) or ``timeout`` passes. Returns the new sequence number, or None
        on timeout. Listener (re)connections also wake every waiter."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if self._seq > after:
                    if interest is None:
                        return self._seq
                    oldest = self._recent[0][0] if self._recent else self._seq + 1
                    if after + 1 < oldest:
                        return self._seq  # fell out of the window: re-evaluate to be safe
                    for seq, certname in reversed(self._recent):
                        if seq <= after:
                            break
                        if certname == "" or certname in interest:
                            return self._seq
                    after = self._seq
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)


hub = Hub()


def release_connection() -> None:
    """Give the request thread's database connection back before sleeping (unless a transaction
    is open, e.g. ATOMIC_REQUESTS or a test case)."""
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            conn.close()


class _Slots:
    """A per-process cap on concurrent long requests (waits and streams)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._used = 0

    def try_acquire(self) -> bool:
        from django.conf import settings

        with self._lock:
            if self._used >= settings.HOOKS_MAX_LONG_REQUESTS:
                return False
            self._used += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._used = max(0, self._used - 1)


slots = _Slots()
