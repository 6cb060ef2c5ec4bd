"""Loaders that run once per process, however many request threads ask for the result at the
same moment (`functools.lru_cache` would let each of them build it)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def once(load: Callable[[], T]) -> Callable[[], T]:
    """Decorate a no-argument loader: the first caller builds the value, concurrent callers wait
    for it, later callers get it at once. A loader that raises is tried again on the next call."""
    lock = threading.Lock()
    done: list[T] = []

    @functools.wraps(load)
    def get() -> T:
        if done:
            return done[0]
        with lock:
            if not done:
                done.append(load())
        return done[0]

    return get
