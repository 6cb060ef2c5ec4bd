"""Whether a sentence answers yes or no, and whether a text says that something is not so.

Attribution uses it for answers to yes/no questions: "Yes, the standards bodies share agreed
definitions" restates the words of "许多常用术语也没有商定的定义" but says the opposite. An
answer that opens with yes or no claims a polarity; the evidence it restates must say the same
(both negate, or neither does). The negation words are in `assistant/data/negation.tsv`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import jieba

from assistant.language import detect_lang
from assistant.lazy import once
from assistant.types import Lang

NEGATION_FILE = Path(__file__).parent / "data" / "negation.tsv"

# a sentence opening with an answer word: "Yes, …", "No. …", "是的，…", "不是。…"
_OPENS = {
    "en": re.compile(r"^\W*(?:(yes)|(no))\b(?=\s*[,.;:!—-])", re.I),
    "zh": re.compile(r"^\W*(?:(是的|是|对|有)|(不是|不|否|没有))(?=\s*[，,。；;：:！!])"),
}


@dataclass(frozen=True)
class _Negations:
    english: re.Pattern[str]
    chinese: frozenset[str]  # whole words
    prefixes: tuple[str, ...]  # Chinese words that negate as the start of a longer word


@once
def _negations() -> _Negations:
    words: dict[str, list[str]] = {"en": [], "zh": []}
    for line in NEGATION_FILE.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and parts[0] in words and parts[1].strip():
            words[parts[0]].append(parts[1].strip())
    english = re.compile(r"n't\b|\b(?:" + "|".join(re.escape(w) for w in words["en"]) + r")\b", re.I)
    chinese = frozenset(w.rstrip("*") for w in words["zh"])
    return _Negations(english, chinese, tuple(w.rstrip("*") for w in words["zh"] if w.endswith("*")))


def negates(text: str) -> bool:
    """Whether a text says that something is not so ("not", "lack"; 没有, 尚无), in whichever
    language it is written."""
    if detect_lang(text, default="en") == "zh":
        words = jieba.lcut(text)
        negations = _negations()
        return any(w in negations.chinese or w.startswith(negations.prefixes) for w in words) or any(
            a + b in negations.chinese for a, b in pairwise(words))  # 并 + 非
    return bool(_negations().english.search(text))


def answer_word(sentence: str, lang: Lang) -> bool | None:
    """True when a sentence opens by answering yes, False by answering no, None otherwise."""
    found = _OPENS[lang].match(sentence)
    return None if found is None else found.group(1) is not None


def claimed_polarity(sentence: str, lang: Lang) -> bool | None:
    """For a sentence opening with yes or no: whether it says the thing is so (False: is not).
    "No, it does not" and "Yes, it does not" both say not; None for other sentences."""
    found = _OPENS[lang].match(sentence)
    if found is None:
        return None
    return found.group(1) is not None and not negates(sentence[found.end():])
