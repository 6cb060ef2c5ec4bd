"""General evidence checks: an answer of the asked kind must be in the evidence, next to the
question's specific terms. Each check is small, says when it applies and whether the evidence
supports an answer, and carries its measured effect (`effect`: what switching it off alone
changes on the dev set's tune and check halves, no model; `python benchmarks/answers.py --checks`
re-measures). A check is in force by default (`DEFAULT_CHECKS`) only when it refuses more
unanswerable or held-out-report questions on the check half as well as the tune half, at no more
than one answerable question; the others can be switched on with the `answer_checks` setting.
A check for one kind of answer applies only to questions asking for nothing else
(`Query.only_asks`): "When was it set up, and what does it do?" can be answered in part."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from assistant.evidence.scoring import sentences_by_passage
from assistant.language import normalize_for_match, numbers_in
from assistant.lazy import once
from assistant.types import AnswerKind, Evidence, Query
from assistant.understanding.kinds import answer_patterns

UNITS_FILE = Path(__file__).resolve().parent.parent / "data" / "units.tsv"
CORE_TERMS = 3  # of each language: the focus terms an answer must stand next to


@once
def units() -> list[tuple[str, str, re.Pattern[str], re.Pattern[str]]]:
    """(unit, language, question pattern, answer pattern) from `assistant/data/units.tsv`."""
    rows = []
    for line in UNITS_FILE.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if line.strip() and not line.startswith("#") and len(parts) == 4:
            rows.append((parts[0], parts[1], re.compile(parts[2], re.I), re.compile(parts[3], re.I)))
    return rows


def asked_unit(query: Query) -> re.Pattern[str] | None:
    """How an answer in the unit a quantity question asks for is written, if it names one."""
    for _, lang, asks, written in units():
        if lang == query.lang and asks.search(query.text):
            return written
    return None


class Check(Protocol):
    @property
    def name(self) -> str: ...  # also what the refusal explains: messages "why_<name>"

    def applies(self, query: Query) -> bool: ...

    def supported(self, query: Query, evidence: Evidence) -> bool: ...

    def detail(self, query: Query, evidence: Evidence) -> str: ...

    @property
    def effect(self) -> str: ...  # measured: what it changes, switched off (or on) alone, per dev half


def _chinese(term: str) -> bool:
    return bool(re.search(r"[\u3400-\u9fff]", term))


def core_terms(focus: Sequence[str], n: int = CORE_TERMS) -> list[str]:
    """The n most specific focus terms of each language (focus comes rarest first per language)."""
    chinese = [t for t in focus if _chinese(t)]
    return chinese[:n] + [t for t in focus if not _chinese(t)][:n]


def mentions(text: str, terms: Sequence[str]) -> bool:
    lowered = normalize_for_match(text)
    return any(term.lower() in lowered for term in terms)


def about(text: str, query: Query, evidence: Evidence) -> bool:
    """Whether a stretch of text names what the question is about: one of its most specific
    terms in the text's own language; when the question has none in that language (an English
    question the glossary cannot render in Chinese), any of its translated terms will do."""
    chinese = bool(re.search(r"[\u3400-\u9fff]", text))
    core = [t for t in core_terms(evidence.focus) if _chinese(t) == chinese]
    if not core:
        core = [t for t in query.terms if _chinese(t) == chinese and len(t) >= 2]
    return not core or mentions(text, core)


def _passage_sentences(evidence: Evidence) -> list[tuple[str, list[str]]]:
    """(section, the scored sentences in order) of each top passage."""
    return [(evidence.passages[index].section, sentences)
            for index, sentences in sentences_by_passage(evidence.scored).items()]


@dataclass(frozen=True)
class KindNearTerms:
    """A question asking for a quantity, a date, a duration or a frequency needs a sentence that
    gives one (written as `answer_patterns.tsv` says) and names one of the question's most
    specific terms — in its own words, the sentence before it or its section's heading."""

    name: str
    kind: AnswerKind
    effect: str = ""
    window: int = 1  # sentences before the one giving the answer that may name the terms

    def applies(self, query: Query) -> bool:
        return query.only_asks(self.kind)

    def supported(self, query: Query, evidence: Evidence) -> bool:
        pattern = answer_patterns()[self.name]
        for section, sentences in _passage_sentences(evidence):
            for i, sentence in enumerate(sentences):
                if pattern.search(sentence) and about(
                        " ".join([section, *sentences[max(0, i - self.window): i + 1]]), query, evidence):
                    return True
        return False

    def detail(self, query: Query, evidence: Evidence) -> str:
        return "/".join(core_terms(evidence.focus))


@dataclass(frozen=True)
class IdentifierNamed:
    """A question naming an identifier ("ASL-3", "A/74/821") is about that thing: some passage
    must name it (identifiers are written alike in every language)."""

    name: str = "identifier"
    effect: str = ("refuses 1 more of 52 unanswerable on tune and 1 more of 52 on check; no answerable or "
                   "held-out question changes")

    def applies(self, query: Query) -> bool:
        return bool(query.identifiers)

    def _missing(self, query: Query, evidence: Evidence) -> list[str]:
        text = re.sub(r"\s*([-/])\s*", r"\1", re.sub("[‐‑–—]", "-", normalize_for_match(
            " ".join(p.text for p in evidence.passages))))
        return [name for name in query.identifiers if name not in text]

    def supported(self, query: Query, evidence: Evidence) -> bool:
        return not self._missing(query, evidence)

    def detail(self, query: Query, evidence: Evidence) -> str:
        joiner = "”、“" if query.lang == "zh" else "”, “"
        missing = self._missing(query, evidence)
        return joiner.join(n.upper() if re.fullmatch(r"[a-z]+-\d+[a-z]?", n) else n for n in missing)


@dataclass(frozen=True)
class FiguresGiven:
    """A question stating a figure of two digits or more — a year, a count, a share ("in 2025",
    "the 40 signatories") — is about something with that figure: some passage (its text, title or
    section) must state it, in any script ("二十八" = "28")."""

    name: str = "figure"
    effect: str = ("refuses 1 more of 52 unanswerable and 3 more of 93 held-out on tune, 3 more of 52 "
                   "unanswerable on check; no answerable question changes")

    def _figures(self, query: Query) -> set[str]:
        return {n for n in numbers_in(query.text) if len(n.split(".")[0]) >= 2}

    def applies(self, query: Query) -> bool:
        return bool(self._figures(query))

    def _missing(self, query: Query, evidence: Evidence) -> list[str]:
        stated = numbers_in(" ".join(f"{p.where()} {p.text}" for p in evidence.passages))
        return sorted(self._figures(query) - stated)

    def supported(self, query: Query, evidence: Evidence) -> bool:
        return not self._missing(query, evidence)

    def detail(self, query: Query, evidence: Evidence) -> str:
        return "/".join(self._missing(query, evidence))


def contains_nearly(text: str, part: str, edits: int) -> bool:
    """Whether some stretch of `text` is within `edits` insertions, deletions or substitutions of
    `part` (a report may write a title with a character missing): Sellers' algorithm."""
    if part in text:
        return True
    if len(part) <= edits:
        return True
    previous = list(range(len(part) + 1))  # column for the empty text prefix: a match may start anywhere
    for char in text:
        current = [0]
        for i, wanted in enumerate(part, start=1):
            current.append(min(previous[i] + 1, current[i - 1] + 1, previous[i - 1] + (char != wanted)))
        if current[-1] <= edits:
            return True
        previous = current
    return False


def _squeeze(text: str) -> str:
    return re.sub(r"[\W_]+", "", normalize_for_match(text))


@dataclass(frozen=True)
class TitlesNamed:
    """A question quoting a title or a name (《…》, “…”, "…") is about that document or thing: some
    passage (its text, title or section) must name it, allowing one character in ten to differ. A
    title in Latin letters counts as named by its glossary Chinese form too; one the glossary does
    not know is not checked (Chinese passages cannot be read for it)."""

    name: str = "title"
    effect: str = ("refuses 3 more of 52 unanswerable and 7 more of 93 held-out on tune, 2 more of 52 "
                   "unanswerable and 5 more of 93 held-out on check; no answerable question changes")

    def _titles(self, query: Query) -> list[tuple[str, list[str]]]:
        """(title as quoted, the forms a passage may name it by) of each title that can be checked."""
        found = re.findall(r"《([^《》]{2,60})》|“([^“”]{4,60})”|\"([^\"]{4,60})\"", query.text)
        titles = []
        for parts in found:
            title = next(part for part in parts if part)
            if _chinese(title):
                titles.append((title, [title]))
                continue
            known = [zh for en, zh in query.names if _squeeze(en) == _squeeze(title)]
            if known:
                titles.append((title, [title, *known]))
        return titles

    def applies(self, query: Query) -> bool:
        return bool(self._titles(query))

    def _missing(self, query: Query, evidence: Evidence) -> list[str]:
        shown = _squeeze(" ".join(f"{p.where()} {p.text}" for p in evidence.passages))
        return [title for title, forms in self._titles(query)
                if not any(contains_nearly(shown, _squeeze(form), max(1, len(_squeeze(form)) // 10))
                           for form in forms)]

    def supported(self, query: Query, evidence: Evidence) -> bool:
        return not self._missing(query, evidence)

    def detail(self, query: Query, evidence: Evidence) -> str:
        joiner = "”、“" if query.lang == "zh" else "”, “"
        return joiner.join(self._missing(query, evidence))


@dataclass(frozen=True)
class NamesNamed:
    """A Chinese question naming a person or a product ("刘德明", "NVIDIA") is about them: some
    passage (its text, title or section) must name each, a name of three characters or more
    allowing one to differ. English questions are not checked: Chinese reports write Western
    names in Chinese characters; nor are names the reports use as a word, which are someone they
    mention or a common word taken for a name (`Query.proper_names`)."""

    name: str = "names"
    effect: str = ("refuses 3 more of 52 unanswerable and 3 more of 93 held-out on tune, 3 more of 52 "
                   "unanswerable and 5 more of 93 held-out on check; no answerable question changes (with the "
                   "bundled model judging too: 0 more on tune, 1 more unanswerable and 1 held-out on check); "
                   "looking only for names the index does not hold as a word: 3 more unanswerable on each "
                   "half, no held-out")

    def applies(self, query: Query) -> bool:
        return bool(query.proper_names)

    def _missing(self, query: Query, evidence: Evidence) -> list[str]:
        shown = _squeeze(" ".join(f"{p.where()} {p.text}" for p in evidence.passages))
        wanted = {name: _squeeze(name) for name in query.proper_names}
        return [name for name, form in wanted.items() if not contains_nearly(shown, form, 1 if len(form) >= 3 else 0)]

    def supported(self, query: Query, evidence: Evidence) -> bool:
        return not self._missing(query, evidence)

    def detail(self, query: Query, evidence: Evidence) -> str:
        return "”、“".join(self._missing(query, evidence))


@dataclass(frozen=True)
class FigureInAskedUnit:
    """A quantity question naming a unit ("多少欧元", "what percentage") needs a figure in that
    unit (a number followed by it) in a sentence about the question's most specific terms (in its
    words, the sentence before it or its section's heading)."""

    name: str = "quantity"  # refused as a quantity question ("why_quantity")
    effect: str = ("refuses 1 more of 52 unanswerable and 3 more of 93 held-out on tune, 3 more of 52 "
                   "unanswerable on check; no answerable question changes")

    def applies(self, query: Query) -> bool:
        return query.only_asks(AnswerKind.QUANTITY) and asked_unit(query) is not None

    def supported(self, query: Query, evidence: Evidence) -> bool:
        written = asked_unit(query)
        assert written is not None
        figure = re.compile(r"\d[\d.,，]*\s*(?:多|余)?\s*(?:[万亿千百]\s*)?")
        for section, sentences in _passage_sentences(evidence):
            for i, sentence in enumerate(sentences):
                if not about(" ".join([section, *sentences[max(0, i - 1): i + 1]]), query, evidence):
                    continue
                for match in figure.finditer(sentence):
                    if written.match(sentence[match.end(): match.end() + 12].lstrip()) or written.search(
                            sentence[max(0, match.start() - 2): match.start()]):
                        return True
                if written.search(sentence) and not written.pattern.startswith("(?:[万亿]") and re.search(
                        r"一半|半数|多数|少数|half|majority", sentence, re.I):
                    return True
        return False

    def detail(self, query: Query, evidence: Evidence) -> str:
        return "/".join(core_terms(evidence.focus))


ALL_CHECKS: dict[str, Check] = {
    "unit": FigureInAskedUnit(),
    "identifier": IdentifierNamed(),
    "figure": FiguresGiven(),
    "title": TitlesNamed(),
    "names": NamesNamed(),
    "quantity": KindNearTerms("quantity", AnswerKind.QUANTITY, (
        "refuses 1 more of 52 unanswerable and 2 more of 93 held-out on tune; 2 more of 52 unanswerable "
        "and 3 more of 93 held-out on check; no answerable question changes")),
    "date": KindNearTerms("date", AnswerKind.DATE, (
        "refuses 1 more of 93 held-out on tune; 1 more of 52 unanswerable and 5 more of 93 held-out on "
        "check; no answerable question changes")),
    "duration": KindNearTerms("duration", AnswerKind.DURATION, (
        "refuses 1 more of 52 unanswerable on tune, 1 more of 93 held-out on check; no answerable question "
        "changes")),
    "frequency": KindNearTerms("frequency", AnswerKind.FREQUENCY, (
        "changes no question on either half (off by default: no measured gain)")),
}
DEFAULT_CHECKS = ("unit", "identifier", "figure", "title", "names", "quantity", "date", "duration")
