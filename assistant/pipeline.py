"""`Assistant`: the one object every surface (CLI, chat page, HTTP API, evaluation) calls."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence

from assistant.config import Settings, load_settings
from assistant.embeddings import Embedder, make_embedder
from assistant.index import BuildReport, DocumentSummary, SearchIndex, build_index, ensure_index
from assistant.retrieval import HybridRetriever, Reranker, RetrievalResult, make_reranker

log = logging.getLogger(__name__)


class Assistant:
    """Loads the embedder and the index once, then answers retrieval requests from any thread."""

    def __init__(self, settings: Settings | None = None, *, embedder: Embedder | None = None,
                 progress: bool = True) -> None:
        self.settings = settings or load_settings()
        self.embedder = embedder or make_embedder(self.settings)
        self._progress = progress
        self._lock = threading.Lock()
        self.reranker: Reranker | None = make_reranker(self.settings)
        self._index = ensure_index(self.settings, self.embedder, progress=progress)
        self._retriever = HybridRetriever(self._index, self.embedder, self.settings, self.reranker)
        self._warm_up()

    def _warm_up(self) -> None:
        """Pay first-call costs (tokenizer dictionary, model buffers) now, not in a user's request."""
        from assistant.lexical import tokenize

        tokenize("人工智能 warm-up")
        self.embedder.embed_queries(["warm-up"])

    @property
    def index(self) -> SearchIndex:
        return self._index

    def retrieve(self, question: str, k: int | None = None, doc_ids: Iterable[str] | None = None,
                 neighbours: int = 0) -> RetrievalResult:
        return self._retriever.retrieve(question, k, doc_ids, neighbours)

    def retrieve_many(self, questions: Sequence[str], k: int | None = None,
                      doc_ids: Iterable[str] | None = None, neighbours: int = 0) -> list[RetrievalResult]:
        return self._retriever.retrieve_many(questions, k, doc_ids, neighbours)

    def documents(self) -> list[DocumentSummary]:
        return list(self._index.documents.values())

    def rebuild(self, *, full: bool = False) -> BuildReport:
        """Bring the index up to date with the corpus, then switch to the new version.

        Requests running meanwhile keep using the version they started with."""
        report = build_index(self.settings, self.embedder, rebuild=full, progress=self._progress)
        self.reload()
        return report

    def reload(self) -> None:
        """Switch to the live index version if it changed."""
        fresh = SearchIndex.open(self.settings.index_dir)
        with self._lock:
            if fresh.folder == self._index.folder:
                fresh.close()
                return
            self._index = fresh
            self._retriever = HybridRetriever(fresh, self.embedder, self.settings, self.reranker)
        log.info("switched to index version %s", fresh.folder.name)
