"""Around every request: a request id (taken from X-Request-ID or made up, echoed back), the
body size limit (413), one structured JSON access-log line, and the request metrics."""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.api import metrics

access_log = logging.getLogger("assistant.access")


class BodyTooLarge(Exception):
    pass


class RequestContext:
    def __init__(self, app: ASGIApp, max_body: int, max_upload: int, upload_paths: tuple[str, ...],
                 log_questions: bool) -> None:
        self.app = app
        self.max_body, self.max_upload, self.upload_paths = max_body, max_upload, upload_paths
        self.log_questions = log_questions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if incoming and len(incoming) <= 64 and incoming.isprintable() else secrets.token_hex(8)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        path = scope.get("path", "")
        limit = self.max_upload if path.startswith(self.upload_paths) and scope.get("method") == "POST" \
            else self.max_body
        status = {"code": 500, "started": False}

        async def send_wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        try:
            declared = int(headers.get("content-length", "0") or 0)
        except ValueError:
            declared = 0
        try:
            if declared > limit:
                raise BodyTooLarge
            await self.app(scope, receive_limited, send_wrapped)
        except BodyTooLarge:
            if not status["started"]:
                await _json(send_wrapped, 413, "payload_too_large",
                            f"the request body is larger than the {limit} bytes allowed here")
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or ("/ui" if path.startswith("/ui") else "unmatched")
            elapsed = time.perf_counter() - started
            method = scope.get("method", "")
            metrics.REQUESTS.labels(template, method, str(status["code"])).inc()
            metrics.LATENCY.labels(template, method).observe(elapsed)
            record: dict[str, Any] = {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "request_id": request_id, "method": method,
                "path": path, "route": template, "status": status["code"], "ms": round(elapsed * 1000, 1),
                "key": state.get("key_id", ""), "client": (scope.get("client") or ("", 0))[0], "pid": os.getpid(),
            }
            if self.log_questions and state.get("question"):
                record["question"] = state["question"]
            access_log.info(json.dumps(record, ensure_ascii=False))


async def _json(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
