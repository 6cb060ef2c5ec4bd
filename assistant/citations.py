"""Citations placed by the system: each sentence of an answer is matched to the evidence
sentences it restates, across languages, and cited with their passages.

A model's own markers are checked, never trusted: one that points at evidence the sentence does
not restate is not used. A sentence that restates no evidence is unsupported (removed, or marked
⚠, as the settings say); a sentence with nothing to support ("The reports list three:") is kept
without a citation. Markers accepted anywhere: [1], [1,2], [1, 2], [1-3], 【1】, ［1］, [1][2];
`resolve` renumbers passage markers densely in order of first use and attaches their passages.

How a sentence is matched (RAGFlow's `insert_citations` idea, made cross-lingual): the share of
its words — or their glossary and dictionary translations — that an evidence sentence holds,
weighted by rarity; the cosine of the two sentences' embeddings (the answer's moved towards the
evidence's language); and its numbers ("seven" = "七" = "7"), every one of which must be in the
evidence it is matched to.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.chunking import sentence_spans
from assistant.concepts import Concept, ConceptReader, coverage, english_stems, glossed, held
from assistant.glossary import Glossary
from assistant.language import detect_lang, normalize_for_match, numbers_in
from assistant.lexical import is_stop_word, tokenize
from assistant.polarity import answer_word, claimed_polarity, negates
from assistant.types import Citation, Evidence, Lang, Passage, SentenceCheck

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


_TAG = re.compile(r"<\|[^|>]{1,40}\|>(?:\s*(?:system|user|assistant|model)\b)?"
                  r"|</?\s*[a-zA-Z_][\w\-]*(?:\s[^<>]{0,200})?/?>")
_EVIDENCE_ECHO = re.compile(r"^\s*[\[【［]\s*\d{1,3}\s*[\]】］]\s*[(（][^)）]{0,160}[)）]")  # "[3] (title › section) …"
_LIST_LINE = re.compile(r"^(\s*(?:[-*•·]|\d{1,2}[.)、．]|[(（]\d{1,2}[)）])\s+)")


def clean_model_text(text: str) -> str:
    """A model's answer without chat-template tokens, tag look-alikes ("<source id=…>") or echoed
    evidence lines: prompt material never reaches a reader."""
    text = _TAG.sub("", text)
    lines = [line for line in text.split("\n") if not _EVIDENCE_ECHO.match(line)]
    return "\n".join(lines).strip()


@dataclass(frozen=True)
class Attribution:
    text: str  # the answer with the system's [n] markers (passage numbers, in order of first use)
    citations: tuple[Citation, ...]
    sentences: tuple[SentenceCheck, ...]  # every sentence, with what supports it
    content: int  # sentences that state something (a connective lead-in states nothing)
    unsupported: int  # … of which no evidence supports
    removed: int  # unsupported sentences left out of `text`
    model_markers: int  # markers the model wrote
    wrong_markers: int  # … that pointed at evidence the sentence does not restate


@dataclass(frozen=True)
class _Piece:
    prefix: str  # list mark or indentation kept in front of the sentence
    text: str  # the sentence without markers
    marked: tuple[int, ...]  # evidence numbers the model cited
    line: int
    ends_line: bool


def _tidy(sentence: str) -> str:
    """A sentence whose markers were taken out, without the separators left between them ("…AI.,,")."""
    sentence = re.sub(r"\s*[,，、;；]+\s*(?=[,，、;；.。!！?？]|$)", "", sentence.strip())
    sentence = re.sub(r"([.。!！?？])[,，、;；\s]+$", r"\1", sentence)
    sentence = re.sub(r"\s*[(（]\s*(?:see|见|参见)?\s*[)）]", "", sentence)
    return re.sub(r"\s+([.。,，!！?？;；])", r"\1", sentence).strip()


def _pieces(text: str) -> list[_Piece]:
    pieces: list[_Piece] = []
    for number, line in enumerate(text.split("\n")):
        mark = _LIST_LINE.match(line)
        prefix = mark.group(1) if mark else ""
        body = line[len(prefix):]
        spans = sentence_spans(body, 0, len(body)) if body.strip() else []
        for k, (start, end) in enumerate(spans):
            sentence = body[start:end]
            marked = tuple(n for _, _, ns in parse_markers(sentence) for n in ns)
            plain = _tidy(_MARKER.sub("", sentence))
            if plain or k == 0:
                pieces.append(_Piece(prefix if k == 0 else "", plain, marked, number, k == len(spans) - 1))
            elif pieces:  # markers after a sentence's end belong to it
                last = pieces[-1]
                pieces[-1] = _Piece(last.prefix, last.text, last.marked + marked, last.line, True)
        if not spans:
            pieces.append(_Piece("", "", (), number, True))
    return pieces


FIGURE_CONFLICT, NAME_CONFLICT, POLARITY_CONFLICT = 1, 2, 4  # how a sentence contradicts evidence


class Attributor:
    """Matches answer sentences to the evidence they restate, and cites it.

    A sentence restates an evidence sentence (score ≥ 1) when the evidence covers enough of
    what the sentence says — its concepts weighted by rarity, in either language — or when the
    two are close in meaning (embeddings), and every figure the sentence gives is in it."""

    def __init__(self, glossary: Glossary, idf: Callable[[str], float | None], embed: Callable[[list[str]], np.ndarray],
                 towards: Callable[[np.ndarray, Lang, Lang], np.ndarray] | None = None,
                 coverage_threshold: float = 0.5, embedding_threshold: float = 0.905, also_margin: float = 0.1,
                 max_citations: int = 3, max_translations: int = 12) -> None:
        self.glossary = glossary
        self.reader = ConceptReader(glossary, idf, max_translations)
        self._embed = embed
        self._towards = towards
        self.coverage_threshold = coverage_threshold
        self.embedding_threshold = embedding_threshold
        self.also_margin = also_margin
        self.max_citations = max_citations

    def concepts(self, sentence: str, lang: Lang) -> list[Concept]:
        """What a sentence says, as concepts with both languages' forms."""
        return self.reader.concepts(sentence, lang)

    def match(self, sentences: Sequence[str], evidence: Evidence) -> list[tuple[float, tuple[int, ...], np.ndarray]]:
        """For each answer sentence: its best support score (≥ 1: it restates the evidence), the
        evidence sentence that scores it, and its score against each. (Sentences joining two
        evidence sentences were tried, and let through more elaborations than joins.)"""
        return [(best, group, singles) for best, group, singles, _ in self.match_with_conflicts(sentences, evidence)]

    def match_with_conflicts(self, sentences: Sequence[str], evidence: Evidence
                             ) -> list[tuple[float, tuple[int, ...], np.ndarray, np.ndarray]]:
        """`match`, and for each sentence how it contradicts each evidence sentence outright,
        whatever its other scores: `FIGURE_CONFLICT` (a figure it does not give), `NAME_CONFLICT` (a
        name it does not give), `POLARITY_CONFLICT` (a yes where it says no), or'ed; 0 for none."""
        numbered = evidence.numbered
        if not sentences:
            return []
        if not numbered:
            return [(0.0, (), np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int8)) for _ in sentences]
        texts = [normalize_for_match(s.text) for s in numbered]
        stems = [english_stems(t) for t in texts]
        # a Chinese sentence's words also cover their dictionary glosses (names excepted: below)
        with_glosses = [s | glossed(t) for s, t in zip(stems, texts, strict=True)]
        # a figure may come from the sentence's passage (its date, a year stated a line earlier)
        passage_numbers = [numbers_in(p.text) for p in evidence.passages]
        numbers = [numbers_in(s.text) | (passage_numbers[s.passage] if 0 <= s.passage < len(passage_numbers)
                                         else set()) for s in numbered]
        vectors = self._embed(list(sentences))
        evidence_vectors = evidence.vectors if evidence.vectors is not None and len(evidence.vectors) == len(
            numbered) else self._embed([s.text for s in numbered])
        # the question and the report it is answered from set the scene: names they use are no claims
        scene = normalize_for_match(" ".join([evidence.query.text, *(p.where() for p in evidence.passages[:3])]))
        scene_stems = english_stems(scene)
        out: list[tuple[float, tuple[int, ...], np.ndarray, np.ndarray]] = []
        negated: list[bool] | None = None  # which evidence sentences say that something is not so
        for i, sentence in enumerate(sentences):
            lang = detect_lang(sentence, default=evidence.query.lang)
            concepts = self.concepts(sentence, lang)
            claimed = {n for n in numbers_in(sentence) if n not in ("0", "1")}
            similarity = np.zeros(len(numbered), dtype=np.float32)
            covered = np.zeros(len(numbered), dtype=np.float32)
            for j, ev in enumerate(numbered):
                vector = vectors[i]
                if self._towards is not None and ev.lang != lang:
                    vector = self._towards(vector, lang, ev.lang)
                similarity[j] = float(evidence_vectors[j] @ vector)
                covered[j] = coverage(concepts, texts[j], with_glosses[j])

            names = [c for c in concepts if c.name and not held(c, scene, scene_stems)]
            says_so = claimed_polarity(sentence, lang)  # "Yes, …" True, "No, …" False, else None
            if says_so is not None and negated is None:
                negated = [negates(ev.text) for ev in numbered]
            singles = np.maximum(covered / self.coverage_threshold, similarity / self.embedding_threshold)
            conflicts = np.zeros(len(numbered), dtype=np.int8)
            for j in range(len(numbered)):
                # a figure or a name the evidence does not give is not restated from it, nor a yes
                # where it says no
                conflicts[j] = ((FIGURE_CONFLICT if claimed and not claimed <= numbers[j] else 0)
                                | (NAME_CONFLICT if any(not held(c, texts[j], stems[j]) for c in names) else 0)
                                | (POLARITY_CONFLICT if says_so is not None and negated is not None
                                   and says_so == negated[j] else 0))
                if conflicts[j]:
                    singles[j] = min(float(singles[j]), 0.99)
            best_j = int(np.argmax(singles))
            out.append((float(singles[best_j]), (best_j,), singles, conflicts))
        return out

    def attribute(self, text: str, evidence: Evidence, remove_unsupported: bool = True) -> Attribution:
        pieces = _pieces(clean_model_text(text))
        stating = [i for i, p in enumerate(pieces) if p.text and self._states(p.text)]
        matches = self.match([pieces[i].text for i in stating], evidence)
        cited: dict[int, tuple[int, ...]] = {}
        supported: dict[int, bool] = {}
        best_score: dict[int, float] = {}
        sources: dict[int, tuple[str, ...]] = {}
        model_markers = wrong = 0
        for (best, group, singles), i in zip(matches, stating, strict=True):
            if broken(pieces[i].text):
                best = min(best, 0.5)
            chosen = list(group) if best >= 1.0 else []
            # other evidence saying the same, from other passages (a summary and its body)
            chosen += [int(j) for j in np.argsort(-singles)
                       if singles[j] >= 1.0 and singles[j] >= best - self.also_margin
                       and int(j) not in chosen]
            for number in pieces[i].marked:
                model_markers += 1
                j = number - 1
                if 0 <= j < len(singles) and singles[j] >= 1.0:
                    if j not in chosen:
                        chosen.append(j)
                else:  # it points at evidence the sentence does not restate: not used
                    wrong += 1
            passages: list[int] = []
            for j in chosen:
                index = evidence.numbered[j].passage
                if index not in passages and len(passages) < self.max_citations:
                    passages.append(index)
            cited[i] = tuple(passages)
            supported[i] = best >= 1.0 and bool(passages)
            best_score[i] = best
            sources[i] = tuple(evidence.numbered[j].text for j in chosen[: self.max_citations + 1])
        lines: dict[int, list[str]] = {}
        checks: list[SentenceCheck] = []
        removed = 0
        for i, piece in enumerate(pieces):
            row_text = piece.prefix + piece.text
            if i in cited:
                if not supported[i]:
                    checks.append(SentenceCheck(piece.text, (), False, round(best_score[i], 3),
                                                removed=remove_unsupported))
                    if remove_unsupported:
                        removed += 1
                        if piece.prefix and lines.get(piece.line) is None:
                            lines.setdefault(piece.line, [])
                        continue
                    row_text += " ⚠"
                else:
                    row_text += " " + "".join(f"[{p + 1}]" for p in cited[i])
                    checks.append(SentenceCheck(piece.text, tuple(p + 1 for p in cited[i]), True,
                                                round(best_score[i], 3), evidence=sources[i]))
            elif piece.text:
                if filler(piece.text):
                    continue  # "and." left where the model's markers stood: it says nothing
                checks.append(SentenceCheck(piece.text, (), True, 1.0))
            lines.setdefault(piece.line, []).append(row_text)
        body = "\n".join(" ".join(part for part in parts if part.strip()) for _, parts in sorted(lines.items()))
        body = re.sub(r"\n{3,}", "\n\n", body).strip()
        resolved = resolve(body, evidence.passages)
        number_of = {old: c.n for c, old in zip(resolved.citations, _first_use(body), strict=False)}
        renumbered = tuple(SentenceCheck(c.text, tuple(number_of.get(n, n) for n in c.citations), c.supported,
                                         c.score, c.evidence, c.removed) for c in checks)
        return Attribution(resolved.text, resolved.citations, renumbered, len(stating),
                           sum(1 for i in stating if not supported[i]), removed, model_markers, wrong)

    def _states(self, sentence: str) -> bool:
        """Whether a sentence claims something (content words or figures), or only connects
        ("以下是主要内容：", "In short:")."""
        if numbers_in(sentence) - {"0", "1"}:
            return True
        content = [t for t in tokenize(sentence) if len(t) >= 2 and not is_stop_word(t)]
        return len(content) >= (3 if sentence.rstrip().endswith((":", "：")) else 1)


_BROKEN = re.compile(r"(?:\b(?:in|on|at|by|of|from|to|with|the|a|an|and|or|is|are|was)|[的在于是和与])\s*[.。]?\s*$",
                     re.I)


def filler(sentence: str) -> bool:
    """A fragment made of connectives only ("and.", "以及。"): not a lead-in (ending in a colon)
    nor an answer word ("Yes.", "否。")."""
    text = sentence.strip()
    if text.endswith((":", "：")) or answer_word(text, "en") is not None or answer_word(text, "zh") is not None:
        return False
    return bool(text) and all(is_stop_word(t) for t in tokenize(text))


def broken(sentence: str) -> bool:
    """A sentence cut short where a marker stood ("This is stated in.", "…的决议是。")."""
    return bool(_BROKEN.search(sentence.strip()))


def _first_use(text: str) -> list[int]:
    """Passage numbers in order of first use in `text`."""
    seen: list[int] = []
    for _, _, numbers in parse_markers(text):
        for number in numbers:
            if number not in seen:
                seen.append(number)
    return seen
