"""Which language a text is in, and the normalised form of a text used for matching.

Display text is never changed here: normalisation (full-width → half-width, Traditional →
Simplified, lower case) is applied only to what gets matched (BM25 terms, evidence checks).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from assistant.lazy import once
from assistant.types import Lang

# CJK ideographs (basic, extension A, compatibility) — the characters that make a text Chinese.
CJK_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_PUNCT = "\u3000-\u303f\uff00-\uffef\u2018-\u201f\u2026\u2014\u00b7"
_CJK_RE = re.compile(f"[{CJK_CHARS}]")
_LATIN_WORD_RE = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")

# Words that carry a question's grammar: they decide its language when content words are mixed,
# e.g. "What does the 布莱切利宣言 say?" is English, "GPAI 的风险有哪些" is Chinese.
_ZH_FUNCTION = re.compile(
    "的|是|吗|呢|么|哪|谁|如何|怎样|怎么|为什么|多少|几|有没有|是否|请|关于|什么|和|与|在|了|对"
)
_EN_FUNCTION = {
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "is", "are", "was",
    "were", "do", "does", "did", "the", "a", "an", "of", "to", "in", "on", "for", "about", "and",
    "or", "can", "should", "could", "would", "say", "says", "said", "list", "describe", "explain",
    "tell", "me", "please", "its", "their", "it", "they", "this", "that", "there",
}


def cjk_count(text: str) -> int:
    return len(_CJK_RE.findall(text))


def is_cjk(ch: str) -> bool:
    return bool(_CJK_RE.match(ch))


def detect_lang(text: str, default: Lang = "zh") -> Lang:
    """Decide whether `text` is Chinese or English, mixed input included.

    Grammar words decide first (a question's frame is in the language it is asked in);
    otherwise the larger share wins, counting a Latin word as worth about two Chinese characters.
    """
    n_cjk = cjk_count(text)
    words = [w.lower() for w in _LATIN_WORD_RE.findall(text)]
    if n_cjk == 0 and not words:
        return default
    if n_cjk == 0:
        return "en"
    if not words:
        return "zh"
    zh_frame = bool(_ZH_FUNCTION.search(text))
    en_frame = sum(1 for w in words if w in _EN_FUNCTION)
    if zh_frame and en_frame == 0:
        return "zh"
    if en_frame >= 2 and not zh_frame:
        return "en"
    return "zh" if n_cjk >= 2 * len(words) else "en"


@once
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → Simplified Chinese (for matching only)."""
    if not _CJK_RE.search(text):
        return text
    return str(_t2s().convert(text))


def normalize_for_match(text: str) -> str:
    """Full-width → half-width (NFKC), Traditional → Simplified, lower case."""
    return to_simplified(unicodedata.normalize("NFKC", text)).lower()


_MARKUP_RE = re.compile(r"</?mark>|\*\*|</?u>")
_SPACE_RE = re.compile(r"\s+")


def match_key(text: str) -> str:
    """The key used to check that an evidence span occurs in a text: NFKC, no markup, no whitespace."""
    text = unicodedata.normalize("NFKC", text)
    text = _MARKUP_RE.sub("", text)
    return _SPACE_RE.sub("", text)
