"""The per-key rate limit holds across worker processes sharing one bucket file."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from assistant.api.limits import RateLimiter, _take


def test_a_late_clock_reading_never_winds_a_bucket_back() -> None:
    # a request that read the clock (t = 9) before another request's update (t = 10) was stored
    state, _ = _take((0.0, 10.0), 60, 9.0)
    assert state[1] == 10.0  # not 9: winding back would hand out that second's refill again
    state, wait = _take(state, 60, 10.0)
    assert wait > 0  # nothing refilled between the two


def _hammer(path: str, seconds: float, results: multiprocessing.Queue[int]) -> None:
    limiter = RateLimiter(60, Path(path))
    allowed = 0
    end = time.time() + seconds
    while time.time() < end:
        if limiter.acquire("shared-key") == 0.0:
            allowed += 1
    results.put(allowed)


def test_two_workers_share_one_limit(tmp_path: Path) -> None:
    path = tmp_path / "limits.sqlite"
    RateLimiter(60, path)  # creates the table
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[int] = context.Queue()
    seconds = 3.0
    workers = [context.Process(target=_hammer, args=(str(path), seconds, results)) for _ in range(2)]
    started = time.time()
    for worker in workers:
        worker.start()
    counts = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    elapsed = time.time() - started
    # a 60/min key: a burst of 15, then one a second — for both workers together
    assert sum(counts) <= 15 + elapsed * 1.0 + 1, counts
    assert sum(counts) >= 15
