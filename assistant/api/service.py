"""What the HTTP layer asks of the assistant beyond answering: staying on the live index
version (several workers share one index folder), adding and removing reports without
interrupting readers, and saying whether it is ready."""

from __future__ import annotations

import logging
import threading
import time

import httpx

from assistant.api import metrics
from assistant.api.admission import ModelAdmission, Ticket
from assistant.api.errors import ApiError
from assistant.api.keys import KeyStore
from assistant.atomic import write_atomic
from assistant.config import Settings
from assistant.generation import BackendError, find_choice, local_ready
from assistant.index import DocumentSummary
from assistant.index.layout import IndexLayout
from assistant.pipeline import Assistant

log = logging.getLogger(__name__)


class AssistantService:
    def __init__(self, settings: Settings, assistant: Assistant | None = None) -> None:
        self.settings = settings
        self.assistant = assistant or Assistant(settings, progress=False)
        self._build_lock = threading.Lock()
        self._checked = 0.0
        self._layout = IndexLayout(settings.index_dir)
        self.admission = ModelAdmission(settings.api_model_queue)
        self.keys: KeyStore | None = None  # set by the app: its key file's health shows in /readyz
        self.assistant.warm_up()
        metrics.INDEX_CHUNKS.set(self.assistant.index.size)

    def current(self) -> Assistant:
        """The assistant, switched to the live index version if another worker rebuilt it
        (checked at most once a second; requests already running keep their version)."""
        now = time.monotonic()
        if now - self._checked > 1.0:
            self._checked = now
            live = self._layout.current()
            if live is not None and live != self.assistant.index.folder:
                self.assistant.reload()
                metrics.INDEX_CHUNKS.set(self.assistant.index.size)
        return self.assistant

    def admit(self, llm: str | None) -> Ticket | None:
        """A place in the model's line when `llm` (None: the default) has a model write the answer;
        None for quoted answers, which never wait for a model. 503 when the line is full."""
        if find_choice(self.settings, llm).backend == "extractive":
            return None
        return self.admission.admit()

    def documents(self) -> list[DocumentSummary]:
        return sorted(self.current().documents(), key=lambda d: d.info.doc_id)

    def _rebuild(self) -> None:
        try:
            report = self.assistant.rebuild()
        except Exception:
            metrics.INDEX_BUILDS.labels("failed").inc()
            raise
        metrics.INDEX_BUILDS.labels("ok").inc()
        metrics.INDEX_CHUNKS.set(self.assistant.index.size)
        log.info("%s", report.summary())

    def add_document(self, name: str, data: bytes, replace: bool = False) -> DocumentSummary:
        """Store the file in the corpus folder (atomically) and index it; readers keep the old
        index until the new one is complete."""
        corpus = self.settings.corpus_dir
        target = corpus / name
        with self._build_lock:
            if target.exists() and not replace:
                raise ApiError(409, "exists", f"a report named '{name}' already exists: "
                               "delete it first or send replace=true")
            corpus.mkdir(parents=True, exist_ok=True)
            previous = target.read_bytes() if target.is_file() else None  # a failed replace restores it
            write_atomic(target, data)
            self._rebuild()
            summary = next((d for d in self.assistant.documents() if d.source == name), None)
            if summary is None:
                reason = self.assistant.index.manifest.skipped.get(name, "it could not be read")
                if previous is not None:
                    write_atomic(target, previous)
                else:
                    target.unlink(missing_ok=True)
                self._rebuild()
                kept = " The existing report was kept." if previous is not None else ""
                raise ApiError(422, "unreadable_document", f"the report was not indexed: {reason}.{kept}")
            return summary

    def delete_document(self, doc_id: str) -> DocumentSummary:
        with self._build_lock:
            summary = next((d for d in self.current().documents() if d.info.doc_id == doc_id), None)
            if summary is None:
                raise ApiError(404, "not_found", f"no report with id '{doc_id}': see GET /v1/documents")
            path = self.settings.corpus_dir / summary.source
            if not path.resolve().is_relative_to(self.settings.corpus_dir.resolve()):
                raise ApiError(409, "conflict", "the report's file is outside the corpus folder")
            path.unlink(missing_ok=True)
            self._rebuild()
            return summary

    def readiness(self) -> dict[str, str]:
        """Problems that make the service not ready (empty when ready)."""
        problems: dict[str, str] = {}
        keys_problem = self.keys.problem() if self.keys is not None else ""
        if keys_problem:
            problems["keys"] = keys_problem
        try:
            if self.current().index.size == 0:
                problems["index"] = "the index holds no passages: add reports to the corpus"
        except Exception as err:
            problems["index"] = f"the index cannot be read ({err})"
        settings = self.settings
        try:
            choice = find_choice(settings, None)
        except BackendError as err:
            problems["llm"] = str(err)
            return problems
        if choice.backend == "local" and not local_ready(settings):
            problems["llm"] = (f"the local model {choice.spec} is not installed here: run `make` or set "
                               "ASSISTANT_LOCAL_MODEL")
        elif choice.backend == "openai":
            try:
                headers = {"Authorization": f"Bearer {settings.llm_api_key}"} if settings.llm_api_key else {}
                response = httpx.get(settings.llm_base_url.rstrip("/") + "/models", headers=headers, timeout=2.0)
                if response.status_code in (502, 503, 504):  # anything else means the server is up
                    problems["llm"] = f"the model endpoint answered {response.status_code}"
            except httpx.HTTPError as err:
                problems["llm"] = f"the model endpoint {settings.llm_base_url} is unreachable ({type(err).__name__})"
        return problems
