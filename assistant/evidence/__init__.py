"""Evidence: choosing and numbering the sentences an answer may rest on.

    retrieval result ─score every sentence of the top passages─▶ [ScoredSentence]
        ─choose (for quotes; more, for a model) ─▶ Evidence (numbered [1]…[n], with vectors)
        + a report's own list of what a list question asks for (outline)

Every answerer reads the same `Evidence`: the extractive one quotes `quoted`, a model is given
`numbered`, and attribution matches a model's sentences against `numbered`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from assistant.config import Settings
from assistant.evidence.coverage import QuestionCoverage
from assistant.evidence.outline import find_outline
from assistant.evidence.scoring import SentenceScorer
from assistant.evidence.selection import SentenceSelector, for_display
from assistant.retrieval import HybridRetriever, RetrievalResult
from assistant.types import AnswerKind, Evidence, Query, ScoredSentence
from assistant.understanding import list_nouns

MAX_OUTLINE_ENTRIES = 10

__all__ = ["EvidenceSelector", "SentenceScorer", "SentenceSelector", "for_display", "shown_sentences"]


class EvidenceSelector:
    """Turns a retrieval result into the `Evidence` every answerer reads."""

    def __init__(self, retriever: HybridRetriever, settings: Settings) -> None:
        self.retriever = retriever
        self.settings = settings
        self.scorer = SentenceScorer(retriever.index, retriever.shift_towards, settings.language_shift,
                                     settings.sentence_coverage_weight, settings.sentence_rank_penalty,
                                     settings.sentence_kind_weight)
        self.quotes = SentenceSelector()
        self.coverage = QuestionCoverage(retriever.glossary, self.rarity)
        self.for_model = SentenceSelector(max_sentences=settings.evidence_sentences,
                                          max_chars=settings.evidence_chars, margin=settings.evidence_margin,
                                          passages=settings.answer_passages,
                                          passage_margin=settings.evidence_margin + 0.04)

    def rarity(self, term: str) -> float | None:
        """A term's rarity in the index (its BM25 idf; None for a term the index never saw)."""
        bm25 = self.retriever.index.bm25
        found = bm25.vocabulary.get(term)
        return None if found is None else float(bm25.idf[found])

    def select(self, retrieval: RetrievalResult, rendering: Query | None = None) -> Evidence:
        """The evidence for a retrieval result. With `rendering` (a model's rendering of the
        question in the reports' language) the sentences are chosen by how well they answer the
        rendering — a Chinese sentence is read better against a Chinese question than against an
        English one; `scored`, which the judgement reads, stays the question's own scoring."""
        query = retrieval.query
        if query is None or retrieval.vector is None:
            raise ValueError("evidence needs a retrieval result that carries its query and vector")
        passages = list(retrieval.passages)
        top = passages[: self.settings.answer_passages]
        scored, vectors = self.scorer.score(query, retrieval.vector, top)
        choosing = scored
        if rendering is not None:
            rendered_vector = self.retriever.embedder.embed_queries([rendering.embed_text])[0]
            choosing = self.scorer.score(rendering, rendered_vector, top)[0]
        listing = query.kind is AnswerKind.LIST or bool(query.list_nouns)
        quoted = self.quotes.select(choosing, list_question=listing)
        chosen = self.for_model.select(choosing, list_question=listing)
        keys = {(s.passage, s.position) for s in chosen}
        numbered = sorted([*chosen, *(s for s in quoted if (s.passage, s.position) not in keys)],
                          key=lambda s: (s.passage, s.position))
        row_of = {(s.passage, s.position): i for i, s in enumerate(scored)}
        rows = [vectors[row_of[(s.passage, s.position)]] for s in numbered if (s.passage, s.position) in row_of]
        dim = vectors.shape[1] if len(vectors) else len(retrieval.vector)
        numbered_vectors = np.stack(rows) if len(rows) == len(numbered) and rows else np.zeros((0, dim), np.float32)
        evidence = Evidence(query=query, passages=tuple(passages), scored=tuple(scored), quoted=tuple(quoted),
                            numbered=tuple(numbered), vectors=numbered_vectors,
                            focus=tuple(self.scorer.focus_terms(query, self.settings.refusal_focus_terms)),
                            coverage=self.coverage(query, top, scored))
        return self._with_outline(evidence, retrieval)

    def _with_outline(self, evidence: Evidence, retrieval: RetrievalResult) -> Evidence:
        """For a question asking for a list ("提出了哪些建议？"): the report of the best passage lists
        it as headings (see `outline.py`), unless the question names another report. The passage
        in which each heading comes first joins the passages (after the retrieved ones, score 0:
        retrieval did not choose them), and the headings join the numbered evidence."""
        query = evidence.query
        passages = list(evidence.passages)
        if not query.list_nouns or not passages:
            return evidence
        doc_id = passages[0].doc_id
        if query.doc_ids and doc_id not in query.doc_ids:
            return evidence
        store = self.retriever.index.store
        found = find_outline(doc_id, store.headings_of(doc_id), query.text, query.list_nouns)
        if found is None:
            return evidence
        chunks = [store.chunk_containing(doc_id, h.start) for h in found.entries[:MAX_OUTLINE_ENTRIES]]
        if not all(chunks):
            return evidence
        entries: list[tuple[str, int]] = []
        for heading, chunk in zip(found.entries, chunks, strict=False):
            assert chunk is not None
            index = next((i for i, p in enumerate(passages) if p.chunk_id == chunk.chunk.chunk_id), None)
            if index is None:
                passages.append(self.retriever.passage_of(chunk, len(passages) + 1, query.lang, 0.0, {}))
                index = len(passages) - 1
            entries.append((" ".join(heading.title.split()), index))
        noun = found.noun if query.lang == "zh" else f"{list_nouns()[found.noun][0]}s"
        headings = [ScoredSentence(index, -1 - i, title, 0.0, item=True, lang=passages[index].lang)
                    for i, (title, index) in enumerate(entries)]
        heading_vectors = self.retriever.embedder.embed_passages([h.text for h in headings])
        numbered = (*evidence.numbered, *headings)
        vectors = (np.concatenate([evidence.vectors, heading_vectors]) if len(evidence.vectors)
                   else np.zeros((0, heading_vectors.shape[1]), np.float32))
        return replace(evidence, passages=tuple(passages), numbered=numbered,
                       vectors=vectors if len(vectors) == len(numbered) else evidence.vectors,
                       outline=tuple(entries), outline_noun=noun,
                       outline_report=passages[entries[0][1]].title)


def shown_sentences(evidence: Evidence) -> tuple[ScoredSentence, ...]:
    """What a quoting answer shows, in this order: the quoted sentences, then the headings of a
    report's own list (the outline). A translation of a quoting answer is keyed by index here."""
    headings = sorted((s for s in evidence.numbered if s.position < 0), key=lambda s: -s.position)
    return (*evidence.quoted, *headings)
