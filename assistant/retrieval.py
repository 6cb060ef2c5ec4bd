"""Finding the passages that answer a question: dense search ∥ BM25, fused by reciprocal rank."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant.config import Settings
from assistant.embeddings import Embedder
from assistant.index import SearchIndex
from assistant.language import detect_lang
from assistant.lexical import tokenize
from assistant.types import Lang, Passage


class QuestionError(ValueError):
    """A question that cannot be asked as it is; the message says why, in the question's language."""


def validate_question(question: str, max_chars: int) -> str:
    text = (question or "").strip()
    if not text:
        raise QuestionError("问题为空：请输入一个问题。 / The question is empty: type a question.")
    if len(text) > max_chars:
        if detect_lang(text[:2000]) == "zh":
            raise QuestionError(
                f"问题过长（{len(text)} 个字符，上限为 {max_chars}）：请缩短问题，"
                "或调整 ASSISTANT_MAX_QUESTION_CHARS。")
        raise QuestionError(
            f"The question is too long ({len(text)} characters; the limit is {max_chars}): "
            "shorten it, or raise ASSISTANT_MAX_QUESTION_CHARS.")
    return text


@dataclass(frozen=True)
class RetrievalResult:
    question: str
    lang: Lang
    passages: list[Passage]
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "question": self.question,
            "lang": self.lang,
            "passages": [p.to_dict() for p in self.passages],
            "timings_ms": self.timings_ms,
        }


def rrf_fuse(rankings: Sequence[tuple[np.ndarray, float]], k: int) -> dict[int, float]:
    """Reciprocal-rank fusion: each ranking (rows best first, weight) adds weight / (k + rank)."""
    fused: dict[int, float] = {}
    for rows, weight in rankings:
        for rank, row in enumerate(rows, start=1):
            fused[int(row)] = fused.get(int(row), 0.0) + weight / (k + rank)
    return fused


class HybridRetriever:
    """Dense (FAISS) and keyword (jieba BM25) search over one index, fused with RRF."""

    def __init__(self, index: SearchIndex, embedder: Embedder, settings: Settings) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings

    def retrieve(self, question: str, k: int | None = None,
                 doc_ids: Iterable[str] | None = None) -> RetrievalResult:
        return self.retrieve_many([question], k, doc_ids)[0]

    def retrieve_many(self, questions: Sequence[str], k: int | None = None,
                      doc_ids: Iterable[str] | None = None) -> list[RetrievalResult]:
        """Retrieve for several questions at once: query embedding is batched."""
        k = k or self.settings.top_k
        texts = [validate_question(q, self.settings.max_question_chars) for q in questions]
        allowed = self.index.rows_of(doc_ids)
        started = time.perf_counter()
        query_vectors = self.embedder.embed_queries(texts)
        embed_ms = (time.perf_counter() - started) * 1000 / max(1, len(texts))
        results = []
        for text, vector in zip(texts, query_vectors, strict=True):
            search_started = time.perf_counter()
            passages = self._search(text, vector, k, allowed)
            search_ms = (time.perf_counter() - search_started) * 1000
            results.append(RetrievalResult(
                question=text,
                lang=detect_lang(text),
                passages=passages,
                timings_ms={"embed": round(embed_ms, 2), "search": round(search_ms, 2),
                            "total": round(embed_ms + search_ms, 2)},
            ))
        return results

    def _search(self, text: str, vector: np.ndarray, k: int,
                allowed: np.ndarray | None) -> list[Passage]:
        n = max(self.settings.candidates, k)
        if allowed is not None and allowed.size == 0:
            return []
        dense_scores, dense_rows = self.index.vectors.search(vector, n, allowed)
        keep = dense_rows[0] >= 0
        dense_rows, dense_scores = dense_rows[0][keep], dense_scores[0][keep]
        bm25_scores, bm25_rows = self.index.bm25.search(tokenize(text), n, allowed)
        fused = rrf_fuse(
            [(dense_rows, self.settings.dense_weight), (bm25_rows, self.settings.bm25_weight)],
            self.settings.rrf_k,
        )
        best = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
        bm25_by_row = dict(zip(bm25_rows.tolist(), bm25_scores.tolist(), strict=True))
        lang = detect_lang(text)
        stored = self.index.chunks_at(row for row, _ in best)
        passages = []
        for rank, (row, score) in enumerate(best, start=1):
            chunk = stored[row].chunk
            info = self.index.documents[chunk.doc_id].info
            passages.append(Passage(
                rank=rank,
                chunk_id=chunk.chunk_id,
                doc_id=chunk.doc_id,
                title=info.title(lang),
                section=chunk.section,
                text=chunk.text,
                score=round(score, 6),
                char_start=chunk.char_start,
                char_end=chunk.char_end,
                lang=chunk.lang,
                scores={"dense": round(float(stored[row].vector @ vector), 4),
                        "bm25": round(bm25_by_row.get(row, 0.0), 4)},
            ))
        return passages
