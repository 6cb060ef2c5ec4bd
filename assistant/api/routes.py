"""The endpoints: thin — they parse, authenticate and shape responses; `AssistantService` and
`Assistant` do the work."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from html import escape
from typing import Any

from fastapi import APIRouter, Body, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.background import BackgroundTask

from assistant.api import metrics
from assistant.api.admission import Ticket
from assistant.api.auth import COOKIE
from assistant.api.errors import ApiError, error_response
from assistant.api.keys import KeyFileError, Principal
from assistant.api.schemas import (
    ASK_EXAMPLES,
    CHAT_EXAMPLES,
    QUESTION_EXAMPLES,
    AnswerResponse,
    AskRequest,
    ChatCompletionRequest,
    DocumentList,
    DocumentOut,
    RetrieveRequest,
    RetrieveResponse,
)
from assistant.api.service import AssistantService
from assistant.api.streaming import relay, sse
from assistant.api.uploads import checked_upload
from assistant.generation import model_choices
from assistant.index import DocumentSummary
from assistant.language import detect_lang
from assistant.messages import message, render_sources
from assistant.pipeline import Asked
from assistant.types import Answer, Evidence

router = APIRouter()


def service(request: Request) -> AssistantService:
    return request.app.state.service


def reader(request: Request) -> Principal:
    return request.app.state.guard.principal(request)


def admin(request: Request) -> Principal:
    return request.app.state.guard.admin(request)


def _asked(request: Request, svc: AssistantService, question: str, history: list[Any] | None = None) -> Asked:
    """The question and conversation validated once (errors become 422s in errors.py)."""
    asked = svc.current().prepare(question, [t.model_dump() if hasattr(t, "model_dump") else t
                                             for t in history or []])
    request.state.question = asked.text
    return asked


# --- retrieval and answers --------------------------------------------------------------------------


@router.post("/v1/retrieve", response_model=RetrieveResponse, tags=["answers"],
             summary="Passages that answer a question / 检索段落")
def retrieve(request: Request, body: RetrieveRequest = Body(openapi_examples=QUESTION_EXAMPLES),
             _: Principal = Depends(reader), svc: AssistantService = Depends(service)) -> dict[str, object]:
    request.state.question = body.question
    started = time.perf_counter()
    result = svc.current().retrieve(body.question, body.k, body.doc_ids)
    metrics.RETRIEVAL.observe(time.perf_counter() - started)
    return result.to_dict()


def _checked_answerer(svc: AssistantService, name: str | None) -> None:
    """422 for an answerer name the operator did not configure (names only, never a path)."""
    if name is None:
        return
    offered = [c.name for c in model_choices(svc.settings)]
    if name not in offered:
        raise ApiError(422, "unknown_answerer", f"'{name[:80]}' is not one of the answerers on offer here: "
                       f"{', '.join(offered)} (GET /v1/models)")


def _evidence_event(evidence: Evidence) -> dict[str, Any]:
    """What the answer will rest on, sent before it is written: the passages and the key sentences."""
    return {"passages": [p.to_dict() for p in evidence.passages[: len(evidence.passages)]],
            "key_sentences": [{"passage": s.passage + 1, "text": s.text} for s in evidence.quoted]}


def _observe(answer: Answer) -> None:
    metrics.RETRIEVAL.observe(answer.timings_ms.get("retrieve", 0.0) / 1000)
    metrics.GENERATION.labels(answer.llm.split(":")[0]).observe(answer.timings_ms.get("generate", 0.0) / 1000)


def _release(ticket: Ticket | None) -> None:
    if ticket is not None:
        ticket.release()


def _event_stream(produce: Callable[[Callable[[], bool]], Iterator[str]],
                  ticket: Ticket | None = None) -> StreamingResponse:
    # the ticket is also released when the response closes: a client gone before the stream began
    return StreamingResponse(relay(produce), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
                             background=BackgroundTask(_release, ticket) if ticket is not None else None)


@router.post("/v1/ask", response_model=AnswerResponse, tags=["answers"],
             summary="An answer with citations / 带引用的回答",
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "with stream=true: `token` events, then one `answer` event"}})
def ask(request: Request, body: AskRequest = Body(openapi_examples=ASK_EXAMPLES),
        _: Principal = Depends(reader), svc: AssistantService = Depends(service)) -> Any:
    asked = _asked(request, svc, body.question, body.history)
    _checked_answerer(svc, body.llm)
    assistant = svc.current()
    ticket = svc.admit(body.llm)
    if not body.stream:
        try:
            answer = assistant.ask(asked, llm=body.llm, doc_ids=body.doc_ids, k=body.k)
        finally:
            _release(ticket)
        _observe(answer)
        return answer.to_dict()

    def produce(should_stop: Callable[[], bool]) -> Iterator[str]:
        try:
            for event in assistant.stream(asked, llm=body.llm, doc_ids=body.doc_ids, k=body.k,
                                          should_stop=should_stop):
                if event.answer is not None:
                    _observe(event.answer)
                    yield sse(event.answer.to_dict(), "answer")
                elif event.evidence is not None:
                    yield sse(_evidence_event(event.evidence), "evidence")
                else:
                    yield sse({"text": event.text}, event.kind)
        finally:
            _release(ticket)

    return _event_stream(produce, ticket)


# --- OpenAI-compatible -------------------------------------------------------------------------------


def _sources_text(answer: Answer) -> str:
    sources = render_sources(answer, "brief")
    return f"\n\n{sources}" if sources else ""


def _chat_turns(body: ChatCompletionRequest) -> tuple[str, list[dict[str, str]]]:
    turns = [m for m in body.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user":
        raise ApiError(422, "invalid_request", "the last message must come from the user")
    return turns[-1].text(), [{"role": m.role, "content": m.text()} for m in turns[:-1]]


@router.post("/v1/chat/completions", tags=["openai"], summary="OpenAI-compatible chat completions / OpenAI 兼容接口")
def chat_completions(request: Request, body: ChatCompletionRequest = Body(openapi_examples=CHAT_EXAMPLES),
                     _: Principal = Depends(reader), svc: AssistantService = Depends(service)) -> Any:
    question, raw_history = _chat_turns(body)
    asked = _asked(request, svc, question, raw_history)
    assistant = svc.current()
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    ticket = svc.admit(None)

    if not body.stream:
        try:
            answer = assistant.ask(asked)
        finally:
            _release(ticket)
        _observe(answer)
        return {
            "id": completion_id, "object": "chat.completion", "created": created, "model": body.model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": answer.answer + _sources_text(answer)}}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "citations": [c.to_dict() for c in answer.citations],
            "refused": answer.refused, "llm": answer.llm,
        }

    def chunk(delta: dict[str, str], finish: str | None = None, **extra: Any) -> str:
        return sse({"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": body.model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra})

    def produce(should_stop: Callable[[], bool]) -> Iterator[str]:
        try:
            yield chunk({"role": "assistant", "content": ""})
            for event in assistant.stream(asked, should_stop=should_stop):
                if event.kind == "token":
                    yield chunk({"content": event.text})
                elif event.kind == "replace":  # text already sent cannot be withdrawn in this protocol
                    yield chunk({"content": message("replaced_stream", detect_lang(question))})
                elif event.answer is not None:
                    _observe(event.answer)
                    yield chunk({"content": _sources_text(event.answer)})
                    yield chunk({}, "stop", citations=[c.to_dict() for c in event.answer.citations],
                                refused=event.answer.refused, llm=event.answer.llm)
            yield "data: [DONE]\n\n"
        finally:
            _release(ticket)

    return _event_stream(produce, ticket)


@router.get("/v1/models", tags=["openai"], summary="Models (OpenAI-compatible) / 模型列表")
def models(_: Principal = Depends(reader), svc: AssistantService = Depends(service)) -> dict[str, Any]:
    return {"object": "list", "data": [{"id": "assistant", "object": "model", "created": 0, "owned_by": "assistant"}],
            "answerers": [{"name": c.name, "backend": c.backend, "label_zh": c.label_zh, "label_en": c.label_en}
                          for c in model_choices(svc.settings)]}


# --- documents ---------------------------------------------------------------------------------------


def _document(summary: DocumentSummary) -> dict[str, Any]:
    info = summary.info
    return DocumentOut(doc_id=info.doc_id, source=summary.source, title_zh=info.title_zh, title_en=info.title_en,
                       language=info.language, date=info.date, publishers=list(info.publishers),
                       chunks=summary.chunks).model_dump()


@router.get("/v1/documents", response_model=DocumentList, tags=["documents"], summary="Reports in the index / 报告列表")
def list_documents(_: Principal = Depends(reader), svc: AssistantService = Depends(service)) -> dict[str, Any]:
    documents = svc.documents()
    return {"documents": [_document(d) for d in documents], "total_chunks": sum(d.chunks for d in documents)}


@router.post("/v1/documents", status_code=201, response_model=DocumentOut, tags=["documents"],
             summary="Upload a report (admin) / 上传报告（管理员）")
def upload_document(request: Request, file: UploadFile = File(description=".txt .md .pdf .docx or .html"),
                    replace: bool = Form(False), _: Principal = Depends(admin),
                    svc: AssistantService = Depends(service)) -> dict[str, Any]:
    data = file.file.read()
    name = checked_upload(file.filename or "", data, svc.settings.api_max_upload_bytes)
    return _document(svc.add_document(name, data, replace=replace))


@router.delete("/v1/documents/{doc_id}", tags=["documents"], summary="Remove a report (admin) / 删除报告（管理员）")
def delete_document(doc_id: str, _: Principal = Depends(admin),
                    svc: AssistantService = Depends(service)) -> dict[str, Any]:
    return {"deleted": _document(svc.delete_document(doc_id))}


# --- operations --------------------------------------------------------------------------------------


@router.get("/healthz", tags=["operations"], summary="The process is up")
async def healthz() -> dict[str, str]:  # on the event loop: never waits behind busy worker threads
    return {"status": "ok"}


@router.get("/readyz", tags=["operations"], summary="The index is loaded and the answer backend reachable")
def readyz(svc: AssistantService = Depends(service)) -> Response:
    problems = svc.readiness()
    if problems:
        return error_response(503, "not_ready", "; ".join(f"{k}: {v}" for k, v in problems.items()))
    return JSONResponse({"status": "ready", "chunks": svc.assistant.index.size})


@router.get("/metrics", tags=["operations"], summary="Prometheus metrics (summed over all workers)")
def prometheus(_: Principal = Depends(reader)) -> Response:
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)


_LOGIN_PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>登录 / Sign in</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28em;margin:4em auto;padding:0 1em}}
input{{width:100%;padding:.5em;margin:.5em 0;box-sizing:border-box}}button{{padding:.5em 1.5em}}
.error{{color:#b91c1c}}</style></head><body>
<h1>人工智能治理报告问答</h1><p>请输入 API 密钥 / Enter your API key.</p>{error}
<form method="post" action="{action}"><input type="hidden" name="next" value="{next}">
<label for="key">API key / 密钥</label><input id="key" name="key" type="password" autocomplete="off" autofocus>
<button type="submit">登录 / Sign in</button></form></body></html>"""


def _safe_next(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") else "/ui/"


@router.get("/login", include_in_schema=False)
def login_form(request: Request, next: str = "/ui/") -> HTMLResponse:
    return HTMLResponse(_LOGIN_PAGE.format(error="", next=escape(_safe_next(next)), action=request.url.path))


@router.post("/login", include_in_schema=False)
def login(request: Request, key: str = Form(""), next: str = Form("/ui/")) -> Response:
    try:
        principal = request.app.state.guard.keys.verify(key.strip())
    except KeyFileError:
        return HTMLResponse("<p>服务器无法读取密钥文件，请联系管理员。 / The server cannot read its key file: "
                            "ask the operator to fix it.</p>", status_code=503)
    if principal is None:
        page = _LOGIN_PAGE.format(error='<p class="error">密钥无效或已撤销 / The key is not valid or was revoked.</p>',
                                  next=escape(_safe_next(next)), action=request.url.path)
        return HTMLResponse(page, status_code=401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(COOKIE, key.strip(), httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", max_age=12 * 3600)
    return response


@router.get("/logout", include_in_schema=False)
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response
