"""Finding the passages that answer a question.

    question ─analyze─▶ dense (FAISS) ∥ keywords (jieba BM25, both languages) ∥ headings
             ─reciprocal-rank fusion (+ reports the question names)─▶ rerank ─▶ passages

An English question is also matched word by word against the passages read in English (each
Chinese word as its dictionary glosses, `index.english_view`): a keyword ranking of its own in the
fusion, and a share of the rerank.

A question in the index's minor language (English over Chinese reports) that names what the
glossary knows is reranked by two readings: its own, and one with those names written in the
reports' language (`Query.crossed_text`), embedded in the same call.

Apparatus — reference material (bibliographies, link lists, English source notes in Chinese
reports) and what is kept of tables of contents (article titles with their authors) — is ranked
in lists of its own, so that it never pushes body text down the fused ranking, and joins the
candidates below body text by `apparatus_penalty`: a footnote can hold what a cited study found,
a contents entry who wrote an article. A question about sources or authors ranks everything
together, without the penalty.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.config import Settings
from assistant.embeddings import Embedder
from assistant.glossary import Glossary, Term
from assistant.index import SearchIndex
from assistant.index.store import StoredChunk
from assistant.language import cjk_count
from assistant.retrieval.headings import HeadingIndex
from assistant.retrieval.rerank import CrossEncoderReranker, Reranker, SentenceMaxSimReranker
from assistant.types import Lang, Passage, Query
from assistant.understanding import QueryAnalyzer, validate_question

PARALLEL_QUESTIONS = Path(__file__).resolve().parent.parent / "data" / "parallel_questions.tsv"


@dataclass(frozen=True)
class RetrievalResult:
    question: str
    lang: Lang
    passages: list[Passage]
    timings_ms: dict[str, float] = field(default_factory=dict)
    query: Query | None = None
    vector: np.ndarray | None = None  # the question's embedding, reused to score sentences
    crossed_vector: np.ndarray | None = None  # the embedding of its crossed text, when it was read

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


def make_reranker(settings: Settings) -> Reranker | None:
    if settings.reranker == "none":
        return None
    if settings.reranker == "cross-encoder":
        return CrossEncoderReranker(settings.reranker_model)
    return SentenceMaxSimReranker()


class HybridRetriever:
    """Dense and keyword search over one index, fused, then reranked."""

    def __init__(self, index: SearchIndex, embedder: Embedder, settings: Settings,
                 reranker: Reranker | None = None, glossary: Glossary | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.reranker = reranker
        corpus_terms = [Term(tuple(en), tuple(zh)) for en, zh in index.store.document_pairs()]
        self.glossary = glossary or Glossary.default(corpus_terms)
        self.analyzer = QueryAnalyzer(self.glossary, index.bm25.vocabulary,
                                      [d.info for d in index.documents.values()])
        kinds = np.asarray(index.store.row_values("kind"))
        # apparatus: reference lists, source notes and tables of contents — ranked apart from body text
        self._is_apparatus = np.isin(kinds, ("reference", "contents"))
        self._apparatus_rows = np.flatnonzero(self._is_apparatus)
        langs = np.asarray(index.store.row_values("lang"))
        body = langs[~self._is_apparatus]
        self._lang_share = {lang: float(np.mean(body == lang)) if body.size else 0.0 for lang in ("zh", "en")}
        self._shift_lock = threading.Lock()
        self._shifts: dict[str, np.ndarray] = {}
        self.headings = HeadingIndex(index.store.row_values("section"))

    def shift_towards(self, lang: str) -> np.ndarray:
        """The direction from questions in the other language to questions in `lang`, in the
        embedder's space (mean of parallel generic questions), computed once."""
        with self._shift_lock:
            if not self._shifts:
                lines = PARALLEL_QUESTIONS.read_text(encoding="utf-8").splitlines()
                pairs = [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]
                vectors = self.embedder.embed_queries([en for en, _ in pairs] + [zh for _, zh in pairs])
                to_zh = vectors[len(pairs):].mean(axis=0) - vectors[: len(pairs)].mean(axis=0)
                self._shifts = {"zh": to_zh, "en": -to_zh}
            return self._shifts[lang]

    def warm_up(self) -> None:
        """Compute the language offsets and open the passages' English reading now rather than in
        the first request that needs them."""
        if self.settings.language_shift > 0:
            self.shift_towards("zh")
        if self.settings.english_view_weight > 0 or self.settings.english_view_bonus > 0:
            self.index.english_view.get()

    def _dense_vectors(self, query: Query, vector: np.ndarray) -> list[np.ndarray]:
        """The question's vector, plus a copy moved towards the other language when the index holds
        passages in that language; the original is dropped when almost nothing is in its language."""
        other = "zh" if query.lang == "en" else "en"
        strength = self.settings.language_shift
        vectors = []
        if self._lang_share[query.lang] >= 0.05 or strength <= 0:
            vectors.append(vector)
        if strength > 0 and self._lang_share[other] >= 0.01:
            moved = vector + strength * self.shift_towards(other)
            vectors.append(moved / np.linalg.norm(moved))
        return vectors or [vector]

    def retrieve(self, question: str, k: int | None = None, doc_ids: Iterable[str] | None = None,
                 neighbours: int = 0, expansion: str = "") -> RetrievalResult:
        return self.retrieve_many([question], k, doc_ids, neighbours, [expansion])[0]

    def retrieve_many(self, questions: Sequence[str], k: int | None = None,
                      doc_ids: Iterable[str] | None = None, neighbours: int = 0,
                      expansions: Sequence[str] | None = None) -> list[RetrievalResult]:
        """Retrieve for several questions at once: query embedding is batched. `expansions` adds
        search terms per question (e.g. a model's translation of it)."""
        texts = [validate_question(q, self.settings.max_question_chars) for q in questions]
        extra = list(expansions or [""] * len(texts))
        started = time.perf_counter()
        queries = [self.analyzer.analyze(t, e) for t, e in zip(texts, extra, strict=True)]
        analyze_ms = (time.perf_counter() - started) * 1000 / max(1, len(texts))
        return self.retrieve_queries(queries, k, doc_ids, neighbours, analyze_ms)

    def retrieve_queries(self, queries: Sequence[Query], k: int | None = None, doc_ids: Iterable[str] | None = None,
                         neighbours: int = 0, analyze_ms: float = 0.0) -> list[RetrievalResult]:
        """Retrieve for questions already understood."""
        k = k or self.settings.top_k
        allowed = self.index.rows_of(doc_ids)
        started = time.perf_counter()
        crossing = [q for q in queries if self._crosses(q)]
        embedded = self.embedder.embed_queries([q.embed_text for q in queries] + [q.crossed_text for q in crossing])
        query_vectors = embedded[: len(queries)]
        crossed = {id(q): v for q, v in zip(crossing, embedded[len(queries):], strict=True)}
        embed_ms = (time.perf_counter() - started) * 1000 / max(1, len(queries))
        results = []
        for query, vector in zip(queries, query_vectors, strict=True):
            search_started = time.perf_counter()
            crossed_vector = crossed.get(id(query))
            passages = self._search(query, vector, k, allowed, neighbours, crossed_vector)
            search_ms = (time.perf_counter() - search_started) * 1000
            results.append(RetrievalResult(
                question=query.text,
                lang=query.lang,
                passages=passages,
                timings_ms={"analyze": round(analyze_ms, 2), "embed": round(embed_ms, 2),
                            "search": round(search_ms, 2), "total": round(analyze_ms + embed_ms + search_ms, 2)},
                query=query,
                vector=vector,
                crossed_vector=crossed_vector,
            ))
        return results

    def _crosses(self, query: Query) -> bool:
        """Whether the question is read a second time with its names in the reports' language: it
        names some the glossary knows, it is not in the language of most of the index, and the
        reranker reads vectors."""
        return (bool(query.crossed_text) and self.settings.crossed_query_weight > 0
                and query.lang != self.main_language() and isinstance(self.reranker, SentenceMaxSimReranker))

    def main_language(self) -> Lang:
        """The language most of the index's body text is in."""
        return "en" if self._lang_share["en"] > self._lang_share["zh"] else "zh"

    @staticmethod
    def _sets_apart(query: Query) -> bool:
        """Apparatus ranks apart from (and below) body text unless the question asks for it."""
        return not (query.wants_sources or query.wants_authors)

    def _candidates(self, query: Query, vector: np.ndarray, allowed: np.ndarray | None) -> dict[int, float]:
        n = self.settings.candidates
        apart = self._sets_apart(query) and self._apparatus_rows.size > 0
        rankings = []
        dense_lists = []
        for dense_vector in self._dense_vectors(query, vector):
            rows = self._dense_rows(dense_vector, n, allowed, apart)
            dense_lists.append(rows)
            rankings.append((rows, self.settings.dense_weight))
        dense_rows = np.concatenate(dense_lists)
        keyword_allowed = allowed
        if apart:
            base = np.arange(self.index.size) if allowed is None else allowed
            keyword_allowed = base[~self._is_apparatus[base]]
        _, bm25_rows = self.index.bm25.search(query.terms, n, keyword_allowed)
        rankings.append((bm25_rows, self.settings.bm25_weight))
        if self._reads_english(query) and self.settings.english_view_weight > 0:
            _, english_rows = self.index.english_view.get().search(self._english_terms(query), n, keyword_allowed)
            rankings.append((english_rows, self.settings.english_view_weight))
        if self.settings.heading_weight > 0:
            excluded = self._is_apparatus if apart else None
            rows = self.headings.rows(query.terms, n, excluded, allowed, self.settings.heading_min_share)
            rankings.append((rows, self.settings.heading_weight))
        apparatus: dict[int, float] = {}
        if apart:
            base = self._apparatus_rows if allowed is None else np.intersect1d(allowed, self._apparatus_rows)
            if base.size:
                apparatus_rankings = []
                for dense_vector in self._dense_vectors(query, vector):
                    _, found = self.index.vectors.search(dense_vector, min(n, base.size), base)
                    apparatus_rankings.append((found[0][found[0] >= 0], self.settings.dense_weight))
                apparatus_rankings.append(
                    (self.index.bm25.search(query.terms, n, base)[1], self.settings.bm25_weight))
                apparatus = rrf_fuse(apparatus_rankings, self.settings.rrf_k)
        if query.doc_ids:
            # a report named in the question ranks its own passages up, without excluding others
            named = np.flatnonzero(np.isin(self.index.row_doc,
                                           [self.index.doc_ids.index(d) for d in query.doc_ids]))
            named_set = set(named.tolist())
            pooled = dict.fromkeys([*dense_rows.tolist(), *bm25_rows.tolist()])
            in_play = [r for r in pooled if r in named_set]
            rankings.append((np.asarray(in_play, dtype=np.int64), self.settings.named_report_weight))
        return {**apparatus, **rrf_fuse(rankings, self.settings.rrf_k)}

    @staticmethod
    def _reads_english(query: Query) -> bool:
        return query.lang == "en"

    @staticmethod
    def _english_terms(query: Query) -> dict[str, float]:
        """The question's own English keyword terms (not their translations)."""
        return {t: w for t, w in query.terms.items() if not cjk_count(t)}

    def _english_view_scores(self, query: Query, candidates: list[StoredChunk]) -> np.ndarray:
        """Each candidate's keyword score over its English reading, as a share of the most the
        question's terms could score (each at its saturated weight): how much of the question a
        passage matches, comparable from one question to the next."""
        view = self.index.english_view.get()
        terms = self._english_terms(query)
        ceiling = view.ceiling(terms)
        if ceiling <= 0:
            return np.zeros(len(candidates), dtype=np.float32)
        return np.minimum(view.scores_at(terms, [c.row for c in candidates]) / ceiling, 1.0)

    def _dense_rows(self, vector: np.ndarray, n: int, allowed: np.ndarray | None,
                    apart: bool) -> np.ndarray:
        """The best `n` rows by the dense index, apparatus left out when asked. Fetches `n` plus
        as many as the apparatus rows that could crowd them out, starting small (they rarely
        rank high) and growing only while too few rows are left: fetching n + every such row
        at once makes approximate indexes as slow as exact search on large corpora."""
        extra = int(self._apparatus_rows.size) if apart else 0
        fetch = n + min(extra, n)
        while True:
            _, found = self.index.vectors.search(vector, fetch, allowed)
            rows = found[0][found[0] >= 0]
            kept = rows[~self._is_apparatus[rows]] if apart else rows
            if len(kept) >= n or fetch >= n + extra or len(rows) < fetch:
                return kept[:n]
            fetch = min(n + extra, fetch * 4)

    def _search(self, query: Query, vector: np.ndarray, k: int, allowed: np.ndarray | None,
                neighbours: int, crossed_vector: np.ndarray | None = None) -> list[Passage]:
        if allowed is not None and allowed.size == 0:
            return []
        fused = self._candidates(query, vector, allowed)
        ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
        depth = max(k, self.settings.rerank_depth) if self.reranker else k
        pool = ranked[:depth]
        stored = self.index.chunks_at(row for row, _ in pool)
        candidates = [stored[row] for row, _ in pool]
        fused_scores = np.asarray([score for _, score in pool], dtype=np.float32)
        rerank_scores = np.zeros(len(pool), dtype=np.float32)
        crossed_scores: np.ndarray | None = None
        english_scores: np.ndarray | None = None
        if self.reranker is not None and candidates:
            rerank_scores = self._rerank(query, vector, candidates)
            if crossed_vector is not None:
                crossed_scores = self._crossed_scores(query, crossed_vector, candidates)
            named = np.asarray([c.chunk.doc_id in query.doc_ids for c in candidates], dtype=np.float32)
            # the fused rank still counts (first place worth `fusion_weight`), and so do the share
            # of the question's terms (both languages) a passage holds and the reports it names
            rest = (self.settings.fusion_weight * fused_scores / fused_scores.max()
                    + self.settings.coverage_weight * self._coverage(query, candidates)
                    + self.settings.named_report_bonus * named)
            if self._reads_english(query) and self.settings.english_view_bonus > 0:
                english_scores = self._english_view_scores(query, candidates)
                rest = rest + self.settings.english_view_bonus * english_scores
            read = rerank_scores
            if crossed_scores is not None:  # the mean of both readings', weighted
                weight = self.settings.crossed_query_weight
                read = ((rerank_scores + weight * crossed_scores) / (1 + weight)).astype(np.float32)
            final = read + rest
        else:
            final = fused_scores.copy()
        if self._sets_apart(query):
            final -= self.settings.apparatus_penalty * self._is_apparatus[[c.row for c in candidates]]
        order = np.argsort(-final, kind="stable")[:k]
        shown = [candidates[i].row for i in order]
        bm25_scores = dict(zip(shown, self.index.bm25.scores_at(query.terms, shown), strict=True))
        passages = []
        for rank, position in enumerate(order, start=1):
            candidate = candidates[position]
            before, after = self._neighbours(candidate, neighbours) if neighbours else ("", "")
            passages.append(self.passage_of(
                candidate, rank, query.lang, round(float(final[position]), 6),
                {"dense": round(float(candidate.vector @ vector), 4),
                 "bm25": round(float(bm25_scores[candidate.row]), 4),
                 "fused": round(float(fused_scores[position]), 6),
                 "rerank": round(float(rerank_scores[position]), 4),
                 **({} if crossed_scores is None else {"crossed": round(float(crossed_scores[position]), 4)}),
                 **({} if english_scores is None else {"english": round(float(english_scores[position]), 4)})},
                before, after))
        return passages

    def passage_of(self, stored: StoredChunk, rank: int, lang: Lang, score: float, scores: dict[str, float],
                 before: str = "", after: str = "") -> Passage:
        chunk = stored.chunk
        return Passage(rank=rank, chunk_id=chunk.chunk_id, doc_id=chunk.doc_id,
                       title=self.index.documents[chunk.doc_id].info.title(lang), section=chunk.section,
                       text=chunk.text, score=score, char_start=chunk.char_start, char_end=chunk.char_end,
                       lang=chunk.lang, scores=scores, context_before=before, context_after=after)

    def _coverage(self, query: Query, candidates: list[StoredChunk]) -> np.ndarray:
        """IDF-weighted share of the question's keyword terms found in each passage."""
        vocabulary, idf = self.index.bm25.vocabulary, self.index.bm25.idf
        weighted = {t: w * float(idf[vocabulary[t]]) for t, w in query.terms.items() if t in vocabulary}
        total = sum(weighted.values())
        if total <= 0:
            return np.zeros(len(candidates), dtype=np.float32)
        return np.asarray([sum(w for t, w in weighted.items() if t in set(c.tokens)) / total
                           for c in candidates], dtype=np.float32)

    def _rerank(self, query: Query, vector: np.ndarray, candidates: list[StoredChunk]) -> np.ndarray:
        """Reranker scores; passages in the other language are compared with the question's vector
        moved towards that language."""
        assert self.reranker is not None
        scores = np.asarray(self.reranker.scores(query.embed_text, vector, candidates), dtype=np.float32)
        other = [i for i, c in enumerate(candidates) if c.chunk.lang != query.lang]
        if other and self.settings.language_shift > 0 and isinstance(self.reranker, SentenceMaxSimReranker):
            shift = self.shift_towards(candidates[other[0]].chunk.lang)
            moved = vector + self.settings.language_shift * shift
            moved /= np.linalg.norm(moved)
            scores[other] = self.reranker.scores(query.embed_text, moved, [candidates[i] for i in other])
        return scores

    def _crossed_scores(self, query: Query, crossed_vector: np.ndarray, candidates: list[StoredChunk]) -> np.ndarray:
        """The reranker's scores for the question read with its names in the reports' language;
        a passage is ranked by the weighted mean of both readings'."""
        assert self.reranker is not None
        return np.asarray(self.reranker.scores(query.crossed_text, crossed_vector, candidates), dtype=np.float32)

    def _neighbours(self, candidate: StoredChunk, n: int) -> tuple[str, str]:
        """Text of up to n chunks before and after, without the part they share with the hit."""
        chunk = candidate.chunk
        before: list[str] = []
        after: list[str] = []
        for step in range(1, n + 1):
            previous = self.index.store.chunk_by_ordinal(chunk.doc_id, chunk.ordinal - step)
            if previous is not None:
                before.insert(0, previous.chunk.text[: max(0, chunk.char_start - previous.chunk.char_start)])
            following = self.index.store.chunk_by_ordinal(chunk.doc_id, chunk.ordinal + step)
            if following is not None:
                cut = max(0, chunk.char_end - following.chunk.char_start)
                after.append(following.chunk.text[cut:])
        return "\n".join(t for t in before if t).strip(), "\n".join(t for t in after if t).strip()
