"""Scoring every sentence of the top passages for how well it answers the question, and the
question's most specific terms (the ones an answer's figure or date must stand next to)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.chunking import chunk_sentences
from assistant.index import SearchIndex
from assistant.index.store import StoredChunk
from assistant.language import CJK_CHARS, detect_lang
from assistant.lexical import tokenize
from assistant.types import Passage, Query, ScoredSentence
from assistant.understanding.kinds import gives_answer_of_kind

_CJK_TERM = re.compile(f"[{CJK_CHARS}]")
# question words say what kind of answer is asked, not what it is about
_QUESTION_WORD = re.compile(r"几|多少|哪|什么|谁|怎|何|是否|一共|"
                            r"^(?:数量|日期|时间|年|比例|百分比|占比|份额|金额|数目)$|"
                            r"^(?:many|much|what|which|when|who|number|count|date|year|share|percentag|proport|"
                            r"amount|fraction)$")
# Ordinals and counts ("第一份", "首届", "second") say which one or how many, not what the
# question is about
_ORDINAL_OR_COUNT = re.compile(r"^(?:第?[一二两三四五六七八九十百千0-9]+|首)[份个项次届条款章节部批位名]?$"
                               r"|^(?:first|second|third|fourth|fifth)$")


def sentences_by_passage(scored: Sequence[ScoredSentence]) -> dict[int, list[str]]:
    """The scored sentences of each passage (by its index), in reading order."""
    rows: dict[int, list[tuple[int, str]]] = {}
    for sentence in scored:
        rows.setdefault(sentence.passage, []).append((sentence.position, sentence.text))
    return {index: [text for _, text in sorted(found)] for index, found in sorted(rows.items())}


def is_question_word(term: str) -> bool:
    """A question word, an ordinal or a count: it says what kind of answer is asked, or which
    one, not what the question is about."""
    return bool(_QUESTION_WORD.search(term) or _ORDINAL_OR_COUNT.match(term))


# BM25 idf below which a term is in most passages ("人工智能"): it cannot tell what a sentence is about
_UBIQUITOUS_IDF = 0.5


@dataclass(frozen=True)
class _Sentence:
    rank: int  # of its passage
    position: int  # within its passage
    text: str
    tokens: frozenset[str]
    chunk: StoredChunk
    vector: np.ndarray  # its own, or its passage's when the index has no sentence vectors
    own_vector: bool


def _local_idf(term: str, sentences: Sequence[_Sentence]) -> float:
    """How rare a term is among the sentences an answer is chosen from: log((n + 1) / (df + ½)),
    near 0 for a term nearly all of them hold."""
    held = sum(1 for sentence in sentences if term in sentence.tokens)
    return math.log((len(sentences) + 1) / (held + 0.5))


class SentenceScorer:
    """Similarity to the question (met in the sentence's language), plus the share of the
    question's terms a sentence holds, plus a little when it holds an answer of the asked kind,
    minus a little per passage rank."""

    def __init__(self, index: SearchIndex, shift_towards: Callable[[str], np.ndarray], language_shift: float,
                 coverage_weight: float, rank_penalty: float, kind_weight: float = 0.0) -> None:
        self.index = index
        self.shift_towards = shift_towards
        self.language_shift = language_shift
        self.coverage_weight = coverage_weight
        self.rank_penalty = rank_penalty
        self.kind_weight = kind_weight

    def question_vector_for(self, vector: np.ndarray, query_lang: str, text_lang: str) -> np.ndarray:
        """The question's vector moved towards the language of the text it is compared with."""
        if text_lang == query_lang or self.language_shift <= 0:
            return vector
        moved = vector + self.language_shift * self.shift_towards(text_lang)
        return np.asarray(moved / np.linalg.norm(moved), dtype=np.float32)

    def score(self, query: Query, vector: np.ndarray, passages: Sequence[Passage],
              ) -> tuple[list[ScoredSentence], np.ndarray]:
        """Every sentence of `passages`, scored, and the sentences' vectors (rows in the same order).

        A term's share is weighted by its rarity in the index and by its rarity among these
        sentences: when every sentence of the top passages says "生成式人工智能", that term
        cannot tell which of them answers "what are the risks of generative AI"; "风险" can."""
        sentences: list[_Sentence] = []
        stored = self.index.store.chunks_by_id([p.chunk_id for p in passages])
        for rank, passage in enumerate(passages):
            chunk = stored.get(passage.chunk_id)
            if chunk is None:
                continue
            texts = chunk_sentences(chunk.chunk)
            own = len(chunk.sentence_vectors) == len(texts)
            sentences += [_Sentence(rank, position, text, frozenset(tokenize(text)), chunk,
                                    chunk.sentence_vectors[position] if own else chunk.vector, own)
                          for position, text in enumerate(texts)]
        if not sentences:
            return [], np.zeros((0, len(vector)), dtype=np.float32)
        vocabulary, idf = self.index.bm25.vocabulary, self.index.bm25.idf
        weighted = {t: w * float(idf[vocabulary[t]]) * _local_idf(t, sentences)
                    for t, w in query.terms.items() if t in vocabulary}
        total = sum(weighted.values()) or 1.0
        scored: list[ScoredSentence] = []
        for sentence in sentences:
            text_lang = detect_lang(sentence.text, default=sentence.chunk.chunk.lang)
            question_vector = (self.question_vector_for(vector, query.lang, text_lang)
                               if sentence.own_vector else vector)
            similarity = float(sentence.vector @ question_vector)
            coverage = sum(w for t, w in weighted.items() if t in sentence.tokens) / total
            score = similarity + self.coverage_weight * coverage - self.rank_penalty * sentence.rank
            if self.kind_weight and gives_answer_of_kind(sentence.text, query.kind):
                score += self.kind_weight  # it holds an answer of the asked kind (a figure, a date…)
            scored.append(ScoredSentence(sentence.rank, sentence.position, sentence.text, round(score, 5),
                                         lang=text_lang))
        return scored, np.stack([s.vector for s in sentences]).astype(np.float32)

    def focus_terms(self, query: Query, n: int = 3) -> list[str]:
        """The question's most specific search terms: per language, the `n` rarest in the index
        among its own words and glossary translations (dictionary guesses are too loose to rely
        on). Question words, ordinals and counts are left out, and so are terms found in most
        passages unless nothing else is left."""
        vocabulary, idf = self.index.bm25.vocabulary, self.index.bm25.idf
        terms = [(float(idf[vocabulary[t]]), t) for t, w in query.terms.items()
                 if w >= 0.8 and t in vocabulary and len(t) >= 2 and not is_question_word(t)]
        terms = [(v, t) for v, t in terms if v >= _UBIQUITOUS_IDF] or terms
        chosen: list[str] = []
        for chinese in (True, False):
            ranked = sorted((v, t) for v, t in terms if bool(_CJK_TERM.match(t)) == chinese)
            chosen += [t for _, t in reversed(ranked[-n:])]
        return chosen
