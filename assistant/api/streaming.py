"""Server-sent events from the assistant's (synchronous) answer stream. The stream runs in a
thread; when the client goes away the response is cancelled, the thread is told to stop, and
a model stops generating at its next token."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from assistant.api import metrics

log = logging.getLogger(__name__)


def sse(data: Any, event: str | None = None) -> str:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return (f"event: {event}\n" if event else "") + f"data: {payload}\n\n"


async def relay(produce: Callable[[Callable[[], bool]], Iterator[str]]) -> AsyncIterator[str]:
    """Run `produce(should_stop)` in a thread and yield what it yields, as it comes."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    stop = threading.Event()
    finished = False

    def worker() -> None:
        try:
            for item in produce(stop.is_set):
                loop.call_soon_threadsafe(queue.put_nowait, ("item", item))
                if stop.is_set():
                    break
        except Exception as err:  # reported to the client as an error event
            log.exception("answer stream failed")
            loop.call_soon_threadsafe(queue.put_nowait, ("error", err))
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, ("end", None))

    threading.Thread(target=worker, name="answer-stream", daemon=True).start()
    try:
        while True:
            kind, payload = await queue.get()
            if kind == "end":
                finished = True
                return
            if kind == "error":
                message = str(payload) if isinstance(payload, ValueError) else "the answer could not be produced"
                yield sse({"error": {"code": "stream_failed", "message": message}}, "error")
                continue
            yield payload
    finally:
        if not finished:
            stop.set()
            metrics.STREAMS_STOPPED.inc()
            log.info("client left mid-stream; generation stopped")
