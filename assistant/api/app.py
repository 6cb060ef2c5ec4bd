"""The FastAPI application: REST + OpenAI-compatible endpoints, the chat page at /ui, OpenAPI
docs at /docs (served offline), keys, limits, JSON errors, access logs and metrics."""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from assistant.api import errors
from assistant.api.auth import Guard
from assistant.api.keys import KeyStore
from assistant.api.limits import RateLimiter
from assistant.api.middleware import RequestContext
from assistant.api.routes import router
from assistant.api.service import AssistantService
from assistant.config import Settings, load_settings
from assistant.pipeline import Assistant

log = logging.getLogger(__name__)

DESCRIPTION = """Questions about AI-governance reports, answered from the reports with numbered citations.
报告问答接口：用中文或英文提问，回答标注出处。

Every endpoint but `/healthz` and `/readyz` needs `Authorization: Bearer <key>`
(create keys with `assistant keys create`). Errors are JSON: `{"error": {"code", "message"}}`."""


class JsonCORSMiddleware(CORSMiddleware):
    """CORS, with a refused preflight in the API's JSON error shape (Starlette answers text/plain)."""

    def preflight_response(self, request_headers: Any) -> Response:
        response: Response = super().preflight_response(request_headers)
        if response.status_code >= 400:
            reason = bytes(response.body).decode("utf-8", "replace").strip() or "the request is not allowed"
            return JSONResponse({"error": {"code": "cors_refused", "message": f"{reason}: this origin, method or "
                                           "header is not allowed (api_cors_origins)"}},
                                status_code=response.status_code, headers={"Vary": "Origin"})
        return response


def create_app(settings: Settings | None = None, assistant: Assistant | None = None) -> FastAPI:
    settings = settings or load_settings()
    service = AssistantService(settings, assistant)
    shared = os.environ.get("ASSISTANT_SERVE_SHARED_DIR")  # set by serve() for several workers
    limiter = RateLimiter(settings.api_rate_per_minute, Path(shared) / "limits.sqlite" if shared else None)
    guard = Guard(KeyStore(settings.keys_file), limiter, tuple(settings.api_cors_origins))
    service.keys = guard.keys
    app = FastAPI(title="Report assistant API · 报告问答接口", version="1", description=DESCRIPTION,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service
    app.state.guard = guard
    errors.install(app)
    app.include_router(router)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(request: Request) -> JSONResponse:
        guard.principal(request)
        schema = app.openapi()
        schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
            "type": "http", "scheme": "bearer"}
        schema["security"] = [{"bearer": []}]
        return JSONResponse(schema)

    import swagger_ui_bundle

    app.mount("/docs-assets", StaticFiles(directory=str(swagger_ui_bundle.swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> Response:
        if guard.identify(request) is None:
            return RedirectResponse("/login?next=/docs", status_code=303)
        page: HTMLResponse = get_swagger_ui_html(
            openapi_url="/openapi.json", title=app.title, swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css", swagger_favicon_url="/docs-assets/favicon-32x32.png")
        return page

    _mount_ui(app, settings, service, guard)

    @app.middleware("http")
    async def ui_login(request: Request, call_next: Any) -> Response:
        """A browser opening the chat page without a key is sent to the login form. The page's
        requests carry its key into the access log, and each event it starts (a question, a
        rating, a comment: Gradio's queue/join) counts against that key's rate limit, as the API's do."""
        path = request.url.path
        if path == "/ui" or path.startswith("/ui/"):
            try:
                principal = guard.identify(request)
                if principal is not None:
                    request.state.key_id = principal.key_id
                if request.method == "GET" and path in ("/ui", "/ui/") and principal is None:
                    return RedirectResponse("/login?next=/ui/", status_code=303)
                if request.method == "POST" and path.endswith("/queue/join"):
                    guard.principal(request)  # 401, 403 (another origin), 429
            except errors.ApiError as err:
                return errors.error_response(err.status, err.code, err.message, err.headers)
        response: Response = await call_next(request)
        return response

    app.add_middleware(JsonCORSMiddleware, allow_origins=list(settings.api_cors_origins), allow_credentials=False,
                       allow_methods=["GET", "POST", "DELETE"], allow_headers=["Authorization", "Content-Type",
                                                                               "X-Request-ID"],
                       expose_headers=["X-Request-ID", "Retry-After"])
    app.add_middleware(RequestContext, max_body=settings.api_max_body_bytes,
                       max_upload=settings.api_max_upload_bytes, upload_paths=("/v1/documents",),
                       log_questions=settings.log_questions)
    return app


def _mount_ui(app: FastAPI, settings: Settings, service: AssistantService, guard: Guard) -> None:
    import gradio as gr

    from assistant.ui import PAGE_CSS, PAGE_JS, AssistantHolder, FeedbackLog, build_page

    page = build_page(AssistantHolder(settings, service.assistant), FeedbackLog(settings.feedback_path))
    page.queue(default_concurrency_limit=4)

    def user(request: Request) -> str | None:
        principal = guard.identify(request)
        return principal.name if principal else None

    gr.mount_gradio_app(app, page, path="/ui", auth_dependency=user, css=PAGE_CSS, js=PAGE_JS, footer_links=[],
                        show_error=False)


def _share_cores(workers: int) -> None:
    """Many request threads in each of several workers: FAISS searches single-threaded (its
    OpenMP teams per request thread would oversubscribe the cores), and the embedding engine
    gets this worker's share of the cores."""
    import faiss

    faiss.omp_set_num_threads(1)
    try:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, workers)))
    except ImportError:
        pass


def app_factory() -> FastAPI:
    """For uvicorn workers (`assistant serve --workers N`): settings come from the environment."""
    _configure_logging()
    _share_cores(int(os.environ.get("ASSISTANT_SERVE_WORKERS", "1")))
    return create_app()


def serve(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn

    _configure_logging()
    # workers are separate processes: they read the settings from the environment
    for name, value in settings.model_dump().items():
        if value is not None and not isinstance(value, (list, dict)):
            os.environ[f"ASSISTANT_{name.upper()}"] = str(value)
    os.environ["ASSISTANT_API_CORS_ORIGINS"] = ",".join(settings.api_cors_origins)
    os.environ["ASSISTANT_SERVE_WORKERS"] = str(workers)
    if workers > 1:
        # worker processes share rate-limit buckets and metrics through files here, so that a
        # key's limit holds for the whole server and /metrics on any worker sums all of them
        shared = Path(tempfile.mkdtemp(prefix="assistant-serve-"))
        (shared / "metrics").mkdir()
        os.environ["ASSISTANT_SERVE_SHARED_DIR"] = str(shared)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(shared / "metrics")
        atexit.register(shutil.rmtree, shared, True)
        uvicorn.run("assistant.api.app:app_factory", factory=True, host=host, port=port, workers=workers,
                    access_log=False, log_config=None, timeout_graceful_shutdown=10,
                    timeout_keep_alive=settings.api_keep_alive_seconds)
    else:
        _share_cores(1)
        uvicorn.run(create_app(settings), host=host, port=port, access_log=False, log_config=None,
                    timeout_keep_alive=settings.api_keep_alive_seconds)


def _configure_logging() -> None:
    """Plain lines on stderr; access log lines are JSON objects already."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    for noisy in ("httpx", "urllib3", "gradio", "sentence_transformers", "jieba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


__all__ = ["app_factory", "create_app", "serve"]
