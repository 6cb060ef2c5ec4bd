"""Admission of model answers: a bounded line for the model, so that readers asking for written
answers cannot take every worker thread. Health, metrics, retrieval and quoted (extractive)
answers never queue here; a model answer beyond the line's capacity is turned away at once with
503 and a Retry-After, rather than waiting without end."""

from __future__ import annotations

import math
import threading

from assistant.api.errors import ApiError


class Ticket:
    """One admitted model answer; `release` is idempotent (a stream's end and its response's
    close may both call it)."""

    def __init__(self, admission: ModelAdmission) -> None:
        self._admission = admission
        self._released = False
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        self._admission._leave()


class ModelAdmission:
    def __init__(self, capacity: int, seconds_per_answer: float = 8.0) -> None:
        self.capacity = capacity  # model answers admitted at once: writing, or waiting for the model
        self.seconds_per_answer = seconds_per_answer
        self._admitted = 0
        self._lock = threading.Lock()

    def admit(self) -> Ticket:
        with self._lock:
            if self.capacity > 0 and self._admitted >= self.capacity:
                wait = max(1, math.ceil(self._admitted * self.seconds_per_answer))
                raise ApiError(503, "model_busy",
                               f"the answer model is busy ({self._admitted} answers in line): retry in about "
                               f"{wait} s, or ask with \"llm\": \"extractive\" for quotes at once",
                               {"Retry-After": str(wait)})
            self._admitted += 1
        return Ticket(self)

    def _leave(self) -> None:
        with self._lock:
            self._admitted = max(0, self._admitted - 1)
