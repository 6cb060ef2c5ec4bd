"""A report's own list of what a question asks for, read off its headings.

"联合国人工智能高级别咨询机构提出了哪些建议？" is answered best by the report's outline —
建议1: 国际人工智能科学小组 … 建议7: 在秘书处内设立人工智能办公室 — which no single passage
holds. Three shapes of outline are recognised, for a noun the question asks a list of:

- a numbered series whose label is that noun, or is named in the question: "建议1: …", "建议2: …",
  "Recommendation 3: …";
- the sub-headings of a heading that names the noun: "二、…十大重要议题" → "(一) …" … "(十) …";
- a run of headings that each end with the noun: "公共原则", "科学原则", "责任原则", "敏捷原则".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.language import CJK_CHARS, cjk_count
from assistant.types import Heading
from assistant.understanding import list_nouns

MIN_ENTRIES = 3
_NUMBER = r"(?:\d{1,2}|[一二三四五六七八九十]{1,3})"
_SERIES = re.compile(rf"^\s*(?P<label>[^\d:：]{{1,24}}?)\s*(?P<number>{_NUMBER})\s*(?:[:：.、)）]|$)\s*(?P<rest>.*)$")
_ENUMERATED = re.compile(rf"^\s*(?:[(（]?{_NUMBER}[)）.、．]|第[一二三四五六七八九十]+|[A-Z][.．]\s)")
_NUMERALS = {c: i for i, c in enumerate("一二三四五六七八九十", start=1)}


@dataclass(frozen=True)
class Outline:
    """Headings of one report that list what the question asks for, in the report's order."""

    doc_id: str
    noun: str  # the Chinese list noun
    entries: tuple[Heading, ...]


def _names(title: str, noun: str) -> bool:
    return noun in title or any(re.search(rf"\b{e}s?\b", title.lower()) for e in list_nouns()[noun])


def _ends_with(title: str, noun: str) -> bool:
    title = title.strip().lower()
    return title.endswith(noun) or any(re.search(rf"\b{e}s?$", title) for e in list_nouns()[noun])


def _number(text: str) -> int:
    if text.isdigit():
        return int(text)
    if len(text) == 1:
        return _NUMERALS[text]
    tens, _, ones = text.partition("十")  # 十一, 二十, 二十三
    return (_NUMERALS.get(tens, 1) if tens else 1) * 10 + (_NUMERALS.get(ones, 0) if ones else 0)


def _numbered_series(headings: Sequence[Heading], noun: str, question: str) -> list[Heading]:
    """"建议1: …" … "建议7: …": numbered from 1 without a gap; where a number has two headings
    (a summary's and the body's), the longer title."""
    by_label: dict[str, dict[int, Heading]] = {}
    for heading in headings:
        match = _SERIES.match(heading.title)
        if not match:
            continue
        label = match["label"].strip()
        bare = label == noun or label.lower().rstrip("s") in list_nouns()[noun]  # "建议", "Recommendation"
        if not bare and not (cjk_count(label) and label in question and _names(label, noun)):
            continue
        numbered = by_label.setdefault(label, {})
        number = _number(match["number"])
        if number not in numbered or len(heading.title) > len(numbered[number].title):
            numbered[number] = heading
    best: list[Heading] = []
    for numbered in by_label.values():
        run: list[Heading] = []
        while len(run) + 1 in numbered:
            run.append(numbered[len(run) + 1])
        if len(run) > len(best):
            best = run
    return best


def _children(headings: Sequence[Heading], noun: str) -> list[list[Heading]]:
    """The direct sub-headings of each heading that names the noun, where they are numbered
    ("(一)", "1.", "A.", "第一")."""
    found = []
    for i, parent in enumerate(headings):
        if not _names(parent.title, noun):
            continue
        below: list[Heading] = []
        for heading in headings[i + 1:]:
            if heading.level <= parent.level:
                break
            below.append(heading)
        if below:
            top = min(h.level for h in below)
            children = [h for h in below if h.level == top]
            if all(_ENUMERATED.match(h.title) for h in children):
                found.append(children)
    return found


def _runs(headings: Sequence[Heading], noun: str) -> list[list[Heading]]:
    """Runs of consecutive headings of one level that each end with the noun, without a heading
    twice as long as most (the run's own title: "“…”的原则", "公共原则", "科学原则", …)."""
    runs: list[list[Heading]] = []
    current: list[Heading] = []
    for heading in headings:
        if _ends_with(heading.title, noun) and (not current or heading.level == current[-1].level):
            current.append(heading)
            continue
        runs.append(current)
        current = [heading] if _ends_with(heading.title, noun) else []
    runs.append(current)
    return [[h for h in run if len(h.title) <= 2 * sorted(len(x.title) for x in run)[len(run) // 2]]
            for run in runs if run]


def _overlap(question: str, headings: Sequence[Heading]) -> int:
    """Character pairs (Chinese) and words (English) of the question found in the headings."""
    text = " ".join(h.title for h in headings).lower()
    pairs = {question[i:i + 2] for i in range(len(question) - 1)}
    words = set(re.findall(r"[a-z]{3,}", question.lower()))
    return sum(1 for p in pairs if re.fullmatch(f"[{CJK_CHARS}]{{2}}", p) and p in text) + \
        sum(1 for w in words if w in text)


def find_outline(doc_id: str, headings: Sequence[Heading], question: str, nouns: Sequence[str]) -> Outline | None:
    """The best outline of one report for a question asking a list of one of `nouns`, or None."""
    best: tuple[int, int] | None = None
    chosen: Outline | None = None
    for noun in nouns:
        candidates = [_numbered_series(headings, noun, question), *_children(headings, noun), *_runs(headings, noun)]
        for entries in candidates:
            if len(entries) < MIN_ENTRIES:
                continue
            key = (_overlap(question, entries), len(entries))
            if best is None or key > best:
                best, chosen = key, Outline(doc_id, noun, tuple(entries))
    return chosen
