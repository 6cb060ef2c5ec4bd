"""Per-key rate limits: a token bucket per key (burst of a quarter minute's allowance).

One worker keeps its buckets in memory. Several worker processes (``assistant serve
--workers N``) share them through a small SQLite file, so that a key's limit holds for the
whole server rather than once per worker."""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from pathlib import Path


def _take(state: tuple[float, float] | None, rate: int, now: float) -> tuple[tuple[float, float], float]:
    """The bucket after one request at ``now``, and the wait (0.0: allowed)."""
    capacity = max(5.0, rate / 4)
    refill = rate / 60.0
    tokens, last = state if state is not None else (capacity, now)
    now = max(now, last)  # a request that read the clock before another's update never winds it back
    tokens = min(capacity, tokens + (now - last) * refill)
    if tokens >= 1.0:
        return (tokens - 1.0, now), 0.0
    return (tokens, now), math.ceil((1.0 - tokens) / refill * 10) / 10


class RateLimiter:
    def __init__(self, default_per_minute: int, shared_file: Path | None = None) -> None:
        self.default_per_minute = default_per_minute
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens, last refill time)
        self._lock = threading.Lock()
        self._shared = shared_file
        self._local = threading.local()
        if shared_file is not None:
            with self._connect() as db:
                db.execute("CREATE TABLE IF NOT EXISTS buckets (key TEXT PRIMARY KEY, tokens REAL, last REAL)")

    def acquire(self, key: str, per_minute: int = 0) -> float:
        """0.0 if the request may go ahead, else the seconds to wait before retrying."""
        rate = per_minute or self.default_per_minute
        if rate <= 0:
            return 0.0
        if self._shared is not None:
            return self._acquire_shared(key, rate)
        with self._lock:
            self._buckets[key], wait = _take(self._buckets.get(key), rate, time.monotonic())
        return wait

    def _connect(self) -> sqlite3.Connection:
        assert self._shared is not None
        db = sqlite3.connect(self._shared, timeout=10, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def _acquire_shared(self, key: str, rate: int) -> float:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            now = time.time()  # read inside the lock; wall clock: monotonic clocks differ across processes
            row = db.execute("SELECT tokens, last FROM buckets WHERE key = ?", (key,)).fetchone()
            state, wait = _take((row[0], row[1]) if row else None, rate, now)
            db.execute("INSERT OR REPLACE INTO buckets VALUES (?, ?, ?)", (key, *state))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return wait
