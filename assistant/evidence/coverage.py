"""How much of what a question is about the evidence names.

The question's concepts (its words with their glossary and dictionary translations, weighted by
rarity in the index; question words, ordinals and counts left out: they say what kind of answer
is asked, not what about), and the largest share of them that one stretch of evidence holds —
a sentence with the one before it and its passage's report and section. Evidence that answers
names what the question asks about; evidence naming only part of it (the office, but not the
budget asked for) is weaker evidence that the reports answer at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache

from assistant.concepts import ConceptReader, coverage, evidence_stems
from assistant.evidence.scoring import is_question_word, sentences_by_passage
from assistant.glossary import Glossary
from assistant.language import CJK_CHARS, normalize_for_match
from assistant.lexical import chinese_words, stem
from assistant.types import Passage, Query, ScoredSentence

_CJK = re.compile(f"[{CJK_CHARS}]")
_RUNS = re.compile(rf"[{CJK_CHARS}]+|[A-Za-z0-9]+(?:[.\-/][A-Za-z0-9]+)*")


def _asks_only(word: str) -> bool:
    return is_question_word(word.lower()) or is_question_word(stem(word.lower()))


def without_question_words(text: str) -> str:
    """The question's words that say what it is about, in order ("联合国提出了哪些建议？" →
    "联合国提出了建议"; "How many members does the body have?" → "members does body have")."""
    parts = []
    for run in _RUNS.findall(text):
        if _CJK.match(run):
            kept = "".join(w for w in chinese_words(run) if not _asks_only(w))
        else:
            kept = "" if _asks_only(run) else run
        if kept:
            parts.append(kept)
    return " ".join(parts)


@lru_cache(maxsize=8192)
def _read(text: str) -> tuple[str, frozenset[str]]:
    """A text normalised, and its English stems and glosses (cached: the same passages come back
    for many questions)."""
    normalised = normalize_for_match(text)
    return normalised, frozenset(evidence_stems(normalised))


class QuestionCoverage:
    """Reads the question's concepts and finds the stretch of evidence holding most of them."""

    def __init__(self, glossary: Glossary, idf: Callable[[str], float | None]) -> None:
        self.reader = ConceptReader(glossary, idf)

    def __call__(self, query: Query, passages: Sequence[Passage], scored: Sequence[ScoredSentence]) -> float:
        """The largest rarity-weighted share of the question's concepts one stretch of the
        evidence holds (1.0 when the question has none)."""
        concepts = self.reader.concepts(without_question_words(query.text), query.lang)
        if not concepts:
            return 1.0
        best = 0.0
        for index, sentences in sentences_by_passage(scored).items():
            if not 0 <= index < len(passages):
                continue
            # each text normalised and read for its English stems once, windows joined from them
            where, where_stems = _read(passages[index].where())
            texts, stems = zip(*(_read(text) for text in sentences), strict=True)
            for i in range(len(texts)):
                before = max(0, i - 1)
                window = " ".join([where, *texts[before: i + 1]])
                best = max(best, coverage(concepts, window, where_stems.union(*stems[before: i + 1])))
        return round(best, 4)
