"""Citation markers ⇄ passages, and whether each cited sentence is supported by its passage.

Markers accepted: [1], [1,2], [1, 2], [1-3], 【1】, ［1］, [1][2]. Markers that point to no
passage are dropped (and reported); the rest are renumbered densely in order of first use and
written back as [1][2]. A sentence is supported when its cited passages contain its terms
(lexical overlap, both languages) or a sentence close to it in meaning (embeddings).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.chunking import sentence_spans
from assistant.types import Citation, Passage, SentenceCheck

_MARKER = re.compile(r"[\[【［]\s*(\d{1,3}(?:\s*[-–~,，、]\s*\d{1,3})*)\s*[\]】］]")
_QUOTE_PREFIX = "> "


def _numbers(group: str) -> list[int]:
    numbers: list[int] = []
    for part in re.split(r"\s*[,，、]\s*", group.strip()):
        bounds = re.split(r"\s*[-–~]\s*", part)
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit():
            low, high = int(bounds[0]), int(bounds[1])
            if 0 < high - low <= 20:
                numbers.extend(range(low, high + 1))
                continue
        if part.isdigit():
            numbers.append(int(part))
    return numbers


def parse_markers(text: str) -> list[tuple[int, int, list[int]]]:
    """(start, end, numbers) of every citation marker in `text`."""
    return [(m.start(), m.end(), _numbers(m.group(1))) for m in _MARKER.finditer(text)]


@dataclass(frozen=True)
class ResolvedText:
    text: str  # markers renumbered, invalid ones removed
    citations: tuple[Citation, ...]  # in the new numbering
    dropped: tuple[int, ...]  # numbers that pointed to no passage


def resolve(text: str, passages: Sequence[Passage]) -> ResolvedText:
    """Renumber the markers of `text` densely in order of first use and attach their passages."""
    renumber: dict[int, int] = {}
    dropped: list[int] = []
    pieces: list[str] = []
    cursor = 0
    for start, end, numbers in parse_markers(text):
        pieces.append(text[cursor:start])
        cursor = end
        kept = []
        for number in numbers:
            if 1 <= number <= len(passages):
                renumber.setdefault(number, len(renumber) + 1)
                if renumber[number] not in kept:
                    kept.append(renumber[number])
            elif number not in dropped:
                dropped.append(number)
        pieces.append("".join(f"[{n}]" for n in kept))
    pieces.append(text[cursor:])
    cleaned = "".join(pieces)
    cleaned = re.sub(r"[ \t]+([。，．.,;；])", r"\1", cleaned)
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned)
    citations = tuple(
        Citation(new, passages[old - 1]) for old, new in sorted(renumber.items(), key=lambda kv: kv[1])
    )
    return ResolvedText(cleaned.strip(), citations, tuple(dropped))


def answer_sentences(text: str) -> list[tuple[str, tuple[int, ...]]]:
    """The sentences of an answer with the citation numbers each carries. Markers that follow
    a sentence's end ("…建议。[1]") belong to that sentence."""
    out: list[tuple[str, tuple[int, ...]]] = []
    offset = 0
    for line in text.split("\n"):
        spans = sentence_spans(text, offset, offset + len(line))
        offset += len(line) + 1
        for start, end in spans:
            sentence = text[start:end]
            leading = re.match(rf"^(?:\s*{_MARKER.pattern})+", sentence)
            if leading and out:  # "…建议。[1] 其中…": markers after a sentence's end belong to it
                previous, previous_numbers = out[-1]
                moved = tuple(n for _, _, ns in parse_markers(leading.group(0)) for n in ns)
                out[-1] = (previous, tuple(dict.fromkeys(previous_numbers + moved)))
                sentence = sentence[leading.end():]
            numbers = tuple(n for _, _, ns in parse_markers(sentence) for n in ns)
            plain = _MARKER.sub("", sentence).strip().removeprefix(">").strip(" -*•")
            if plain:
                out.append((plain, numbers))
    return out


def answer_language_text(text: str) -> str:
    """The answer's own words: quoted source lines ("> …") and markers left out."""
    own = [line for line in text.split("\n") if not line.lstrip().startswith(">")]
    return _MARKER.sub("", "\n".join(own))


class SupportChecker:
    """Decides whether a cited passage supports an answer sentence."""

    def __init__(self, terms: Callable[[str], Mapping[str, float]],
                 passage_tokens: Callable[[Passage], set[str]],
                 embed: Callable[[list[str]], np.ndarray] | None = None,
                 passage_vectors: Callable[[Passage], np.ndarray] | None = None,
                 lexical_threshold: float = 0.5, embedding_threshold: float = 0.9) -> None:
        self._terms = terms
        self._passage_tokens = passage_tokens
        self._embed = embed
        self._passage_vectors = passage_vectors
        self.lexical_threshold = lexical_threshold
        self.embedding_threshold = embedding_threshold

    def lexical(self, sentence: str, passage: Passage) -> float:
        terms = {t: w for t, w in self._terms(sentence).items() if w > 0}
        if not terms:
            return 1.0
        tokens = self._passage_tokens(passage)
        # a term counts if it, or a translation of it, is in the passage: weights of the
        # sentence's own words and of their translations share one total per concept
        own = {t: w for t, w in terms.items() if w >= 1.0}
        covered = sum(w for t, w in own.items() if t in tokens)
        translated = [t for t, w in terms.items() if w < 1.0 and t in tokens]
        total = sum(own.values()) or 1.0
        return min(1.0, (covered + len(translated)) / total)

    def check(self, text: str, citations: Sequence[Citation]) -> tuple[list[SentenceCheck], float | None]:
        """Each sentence with its citations and whether they support it; and the share of cited
        sentences that are supported. Embeddings are computed only where words do not suffice."""
        by_number = {c.n: c.passage for c in citations}
        sentences = answer_sentences(text)
        lexical: list[float] = []
        for sentence, numbers in sentences:
            passages = [by_number[n] for n in numbers if n in by_number]
            lexical.append(max((self.lexical(sentence, p) for p in passages), default=0.0))
        unsure = [i for i, (_, numbers) in enumerate(sentences)
                  if numbers and lexical[i] < self.lexical_threshold]
        semantic: dict[int, float] = {}
        if unsure and self._embed is not None and self._passage_vectors is not None:
            vectors = self._embed([sentences[i][0] for i in unsure])
            for row, i in enumerate(unsure):
                for number in sentences[i][1]:
                    passage = by_number.get(number)
                    if passage is None:
                        continue
                    candidates = self._passage_vectors(passage)
                    if len(candidates):
                        similarity = float((candidates @ vectors[row]).max())
                        semantic[i] = max(semantic.get(i, 0.0), similarity)
        checks: list[SentenceCheck] = []
        for i, (sentence, numbers) in enumerate(sentences):
            if not numbers:
                checks.append(SentenceCheck(sentence, (), False, 0.0))
                continue
            score = max(lexical[i] / self.lexical_threshold, semantic.get(i, 0.0) / self.embedding_threshold)
            checks.append(SentenceCheck(sentence, numbers, score >= 1.0, round(score, 3)))
        with_citations = [c for c in checks if c.citations]
        share = (sum(c.supported for c in with_citations) / len(with_citations)) if with_citations else None
        return checks, share
