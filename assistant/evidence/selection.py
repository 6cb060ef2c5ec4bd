"""Choosing the sentences an answer may rest on, from the scored sentences of the top passages.

The best sentence of each top passage that comes close to the best overall (so that every strong
source is seen), then more sentences near the best score; said-twice sentences (a summary
repeating its body) once, citing both places; the sentence after the best one when it refers
back to it ("《宣言》指出…", "It would…") or gives its examples ("如建立…"); and for a question
asking for a list, the items a chosen lead-in ("其任务包括:") introduces. Headings, title lines,
the reports' own questions, table rows and chart text are chosen only when nothing else is there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from assistant.language import CJK_CHARS, cjk_count
from assistant.lexical import is_stop_word
from assistant.types import ScoredSentence

_LIST_MARK = re.compile(r"^(?:[-*]\s+|[•·▪●]\s*)+")
_CHINESE_NUMERALS = "[一二三四五六七八九十百]{1,6}"
_BEFORE_TEXT = rf"\s+(?![多余个名年月日项条次位家])(?=[{CJK_CHARS}《“「])"  # a space, then Chinese text (no counter)
_PARAGRAPH_NUMBER = re.compile(rf"^(?:\d{{1,3}}|{_CHINESE_NUMERALS}){_BEFORE_TEXT}")
_CHINESE_PARAGRAPH_NUMBER = re.compile(rf"^{_CHINESE_NUMERALS}{_BEFORE_TEXT}")


def for_display(text: str) -> str:
    """The sentence as the answer shows it: on one line, without the list mark and paragraph
    number it had in its report ("- 151 理想的情况是…", "- ·确定…", "四十六 很多国家…"), which read
    as part of the quote; the cited passage still shows them. A number may be the sentence's own and stays
    when it is not after a list mark ("340 多名受访者…"), when a counter follows it ("- 2 名…"),
    or when the text after it is not Chinese ("- 28 EU members…")."""
    text = " ".join(text.split())
    marked = _LIST_MARK.match(text)
    if marked:
        text = text[marked.end():]
        return _PARAGRAPH_NUMBER.sub("", text, count=1)
    # a number in Chinese numerals set apart by a space is a paragraph number even without a
    # list mark ("四十六 很多国家…"): Chinese writes a count next to its noun ("四十六个国家")
    return _CHINESE_PARAGRAPH_NUMBER.sub("", text, count=1)


_LONE_NUMBER = re.compile(r"(?<!\S)[(（]?\d[\d.]*%?[)）]?(?!\S)")


def _is_chart_text(text: str) -> bool:
    """Text pulled out of a chart: labels and values run together, so a third or more of its
    words are bare numbers, with no comma or word to join them ("美利坚合众国 7 中国新加坡 4 …
    16 3 3 瑞典 17"). Prose lists its numbers: "in 2019, 2020 and 2021"."""
    words = len(text.split())
    numbers = len(_LONE_NUMBER.findall(text))
    return words >= 9 and numbers >= 6 and numbers * 3 >= words


def _is_lead_in(text: str) -> bool:
    """A sentence that introduces a list ("其任务包括:", "…as follows:"): it says little
    without the items after it."""
    return text.rstrip().endswith((":", "："))


def _without_lead_in(text: str) -> str:
    """A sentence whose last short clause introduces a list ("…的代表。其任务是:"), without that
    clause, for when the list is not shown."""
    stripped = text.rstrip()
    if not _is_lead_in(stripped):
        return text
    cut = max(stripped.rfind(stop, 0, len(stripped) - 1) for stop in _FULL_STOPS)
    return stripped[: cut + 1] if cut > 0 and len(stripped) - cut <= 12 else text


# how a sentence that refers back to the one before it starts: "该小组", "其任务", "此外", "这将",
# "上述", a short name the report has just defined ("《宣言》"), "It", "This", "Such"; or one
# that gives its examples: "如建立…", "例如", "For example" (not "如果", "如有", "如何", "如今")
_ANAPHOR = re.compile(r"(?:该|其|此|这|它|上述|《[^》]{1,4}》|(?:It|This|These|They|Such)\b"
                      r"|例如|比如|譬如|诸如|如(?![果何今此同下若有需要能是])"
                      r"|(?:For example|For instance|E\.g\.)(?=[\s,]))")
_FULL_STOPS = ("。", "！", "？", ".", "!", "?")
_ENUMERATOR = re.compile(r"^[(（]?(?:[a-zA-Z]|[ivx]+|\d{1,2})[.)）]\s*")


def _starts_paragraph(text: str) -> bool:
    """A numbered paragraph of the report ("- 91 这样的机构是有先例的。"), not an item of a list."""
    text = " ".join(text.split())
    marked = _LIST_MARK.match(text)
    return bool(marked and _PARAGRAPH_NUMBER.match(text[marked.end():]))


def _is_statement(text: str) -> bool:
    """A sentence that says something, not a heading, caption, title line, question ("首届人工智能
    安全峰会开得怎样？" is an article's title), table row (a row's cells, cut out of their table,
    read as a jumble: "2023 年 | 《…》 | 美国") or chart text."""
    stripped = text.strip()
    if len(stripped) < 10 or stripped.count("|") >= 2 or _is_chart_text(stripped):
        return False
    if stripped.endswith(("？", "?")):
        return False
    if stripped.endswith(("。", "！", "；", ".", "!", ";", "”", "」", ")", "）")):
        return True
    return len(stripped) >= 40 and not _is_title_line(stripped)


def _is_title_line(text: str) -> bool:
    """Unpunctuated English that names rather than says: a title in title case ("Safety and
    Global Governance of Generative AI Report", "School of International and Public Affairs")
    or fewer than four words (a wrapped web address)."""
    if cjk_count(text):
        return False
    words = re.findall(r"[A-Za-z][\w'’\-]*", text)
    content = [w for w in words if not is_stop_word(w.lower())]
    return len(text.split()) < 4 or (bool(content) and all(w[0].isupper() for w in content))


def _key(text: str) -> str:
    return re.sub(r"\W+", "", text)


def _bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)}


def _repeated(key: str, keys: Sequence[str]) -> int | None:
    """Which of the chosen sentences (`keys`: their letters and digits) already says what this
    one (`key`) says, if any. The same text, or nearly: a report's summary and body repeat
    paragraphs with another number or list letter ("a) 分享…", "七十 联合国可…"), and a short
    sentence may be part of a longer one. Nearly is when 80 % of the shorter one's character
    pairs are in the other."""
    pairs = _bigrams(key)
    for index, other in enumerate(keys):
        other_pairs = _bigrams(other)
        if key == other or len(pairs & other_pairs) >= 0.8 * max(1, min(len(pairs), len(other_pairs))):
            return index
    return None


@dataclass(frozen=True)
class SentenceSelector:
    """Picks the best sentence of each of the top passages that comes close to the best overall
    (so that a reader sees every strong source), then more sentences near the best score."""

    max_sentences: int = 5
    max_chars: int = 600
    margin: float = 0.04  # sentences this close to the best score are chosen
    passages: int = 4  # the best sentence of each of the first `passages` passages …
    passage_margin: float = 0.08  # … when it is this close to the best
    max_items: int = 8
    max_item_chars: int = 600

    def select(self, sentences: Sequence[ScoredSentence], list_question: bool = False) -> list[ScoredSentence]:
        """The chosen sentences in reading order (passage, then position)."""
        candidates = [s for s in sentences if _is_statement(s.text) or (list_question and _is_lead_in(s.text))]
        candidates = candidates or list(sentences)
        if not candidates:
            return []
        limit = self.max_sentences
        ranked = sorted(candidates, key=lambda s: (-s.score, s.passage, s.position))
        best = ranked[0].score
        per_passage: dict[int, ScoredSentence] = {}
        for sentence in ranked:
            if sentence.passage < self.passages and sentence.passage not in per_passage:
                per_passage[sentence.passage] = sentence
        wanted = [s for s in per_passage.values() if s.score >= best - self.passage_margin]
        wanted += [s for s in ranked if s.score >= best - self.margin]
        chosen: list[ScoredSentence] = []
        keys: list[str] = []  # the chosen sentences' letters and digits
        length = 0
        for sentence in sorted(dict.fromkeys(wanted), key=lambda s: -s.score):
            key = _key(sentence.text)
            same = _repeated(key, keys)
            if same is not None:  # said once; a summary's copy of the body cites both places
                kept = chosen[same]
                if key != keys[same] and sentence.passage not in (kept.passage, *kept.also):
                    chosen[same] = replace(kept, also=(*kept.also, sentence.passage))
                continue
            if chosen and length + len(sentence.text) > self.max_chars:
                continue
            chosen.append(sentence)
            keys.append(key)
            length += len(sentence.text)
            if len(chosen) >= limit:
                break
        following = self._continuation(chosen[0], sentences, keys, length)
        if following is not None:
            chosen.append(following)
            keys.append(_key(following.text))
        introducing: set[tuple[int, int]] = set()  # the lead-ins whose lists are shown
        if list_question:
            items: dict[tuple[int, int], ScoredSentence] = {}
            for lead_in in (s for s in chosen if _is_lead_in(s.text)):
                listed = self._items(lead_in, sentences)
                if listed:
                    introducing.add((lead_in.passage, lead_in.position))
                items.update(((item.passage, item.position), item) for item in listed)
            chosen = [replace(items.pop((s.passage, s.position), s), also=s.also) for s in chosen]
            for item in items.values():
                same = _repeated(_key(item.text), [_key(s.text) for s in chosen])
                if same is None:
                    chosen.append(item)
                elif not chosen[same].item:  # said in its list, citing both places
                    kept = chosen[same]
                    chosen[same] = replace(item, also=tuple(
                        p for p in dict.fromkeys((kept.passage, *kept.also)) if p != item.passage))
        chosen = [s if (s.passage, s.position) in introducing else replace(s, text=_without_lead_in(s.text))
                  for s in chosen]
        return sorted(chosen, key=lambda s: (s.passage, s.position))

    def _continuation(self, best: ScoredSentence, sentences: Sequence[ScoredSentence],
                      keys: Sequence[str], length: int) -> ScoredSentence | None:
        """The sentence after the best one when it goes on about the same thing ("该小组将…",
        "《宣言》指出…", "It would…", "如建立…"): on its own it would lack the subject it refers back to,
        so it scores lower than it answers."""
        following = next((s for s in sentences if s.passage == best.passage and s.position == best.position + 1), None)
        if following is None or not _ANAPHOR.match(following.text.strip()):
            return None
        if not _is_statement(following.text) or _is_lead_in(following.text):
            return None
        if _repeated(_key(following.text), keys) is not None or length + len(following.text) > self.max_chars:
            return None
        return following

    def _items(self, lead_in: ScoredSentence, sentences: Sequence[ScoredSentence]) -> list[ScoredSentence]:
        """The list a lead-in sentence introduces: the sentences after it in its passage, at most
        `max_items` of them and `max_item_chars` long. The list ends at a numbered paragraph; at
        an unmarked sentence when the items carry list marks; and after an item that ends with a
        full stop, unless the list marks go on (a new lead-in ends it even then)."""
        following = sorted((s for s in sentences if s.passage == lead_in.passage and s.position > lead_in.position),
                           key=lambda s: s.position)
        items: list[ScoredSentence] = []
        marked: bool | None = None  # whether the list's items carry list marks
        previous = ""
        length = 0
        for expected, sentence in enumerate(following, start=lead_in.position + 1):
            text = sentence.text.strip()
            has_mark = bool(_LIST_MARK.match(text))
            ended = previous.endswith(_FULL_STOPS)
            if (sentence.position != expected or _starts_paragraph(text) or (marked and not has_mark)
                    or (ended and (not has_mark or _is_lead_in(text)))
                    or len(items) >= self.max_items or length + len(text) > self.max_item_chars):
                break
            if not re.search(r"\w{2}", _ENUMERATOR.sub("", for_display(text))):  # a bare "- iii."
                continue
            if marked is None:
                marked = has_mark
            items.append(replace(sentence, item=True))
            previous = text
            length += len(text)
        return items

