"""Which language a text is in, and the normalised form of a text used for matching.

Display text is never changed here: normalisation (full-width → half-width, Traditional →
Simplified, lower case) is applied only to what gets matched (BM25 terms, evidence checks).
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
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


_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9}
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10_000, "亿": 100_000_000}
_EN_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000,
}
_ZH_NUMERAL = re.compile("[零〇一二两三四五六七八九十百千万亿]+")
# a figure in digits: "1,000", "3.5", and the thousands set apart by spaces as UN texts do ("5 770万",
# "83 155"; a group of exactly three digits, so "注71 2024年" stays two numbers)
_NUMBER = r"(?:\d{1,3}(?:[ \u00a0\u202f]\d{3}(?!\d))+|\d+(?:[,，]\d{3})*)(?:\.\d+)?"
_DIGITS = re.compile(_NUMBER)
_EN_NUMBER_WORD = re.compile(r"\b(?:" + "|".join(_EN_NUMBERS) + r")(?:[- ](?:" + "|".join(_EN_NUMBERS) + r"))?\b",
                             re.I)
# Chinese numerals that are words, not numbers: "一些", "统一", "之一", "一起", "七国集团" is a name
_NOT_A_NUMBER = re.compile("一些|一切|统一|之一|一起|一致|一样|一般|一体|唯一|进一步|一直|一定|一方面|万一|千万"
                           "|一旦|逐一|同一|第一"
                           "|一道|一同|一带一路|三观|十分|百分之")


def _zh_value(numeral: str) -> int | None:
    total, section, digit = 0, 0, None
    for char in numeral:
        if char in _ZH_DIGITS:
            digit = _ZH_DIGITS[char]
        elif char in ("万", "亿"):
            section = (section + (digit or 0)) * _ZH_UNITS[char]
            total, section, digit = total + section, 0, None
        else:
            section += (1 if digit is None else digit) * _ZH_UNITS[char]
            digit = None
    value = total + section + (digit or 0)
    return value if value > 0 else None


def is_number_word(word: str) -> bool:
    """"twenty", "eight", "hundred": a figure written out (compared as a number, not as a word)."""
    return word.lower() in _EN_NUMBERS


def _plain_number(digits: str) -> str:
    """"1,000" → "1000", "05" → "5" (a month written 2024-05-13), "3.50" kept as written."""
    digits = re.sub(r"[,，\s]", "", digits)
    return digits.lstrip("0") or "0" if digits.isdigit() else digits


# a magnitude written after a figure ("100亿", "3.5万", "10 billion", "two million"): the figure
# is compared at its value, so a translation's "10 billion" states what "100亿" states
_MAGNITUDES = {"万亿": 10**12, "千亿": 10**11, "百亿": 10**10, "十亿": 10**9, "亿": 10**8, "千万": 10**7,
               "百万": 10**6, "十万": 10**5, "万": 10**4, "trillion": 10**12, "billion": 10**9, "bn": 10**9,
               "million": 10**6, "thousand": 10**3}
# "200多万", "1000余万": an approximate figure ("more than 200") still takes the magnitude after it
_APPROXIMATE = "多余几来"
_MAGNITUDE = re.compile(rf"\s*(?:[{_APPROXIMATE}]\s*)?(" + "|".join(sorted(_MAGNITUDES, key=len, reverse=True))
                        + r")(?![a-z])", re.I)


def _scaled(number: str, text: str, end: int) -> tuple[str, int]:
    """The figure `number` (plain digits) at its value when a magnitude follows it at `end`, and
    where the figure's writing ends."""
    found = _MAGNITUDE.match(text, end)
    if found is None:
        return number, end
    value = Decimal(number) * _MAGNITUDES[found.group(1).lower()]
    written = str(int(value)) if value == value.to_integral_value() else format(value.normalize(), "f")
    return written, found.end()


# a figure written with one of _MAGNITUDES' Chinese magnitudes (the longest first: "万亿" before "万")
_ZH_MAGNITUDE = re.compile(rf"{_NUMBER}\s*[{_APPROXIMATE}]?\s*(?:"
                           + "|".join(sorted((m for m in _MAGNITUDES if not m.isascii()), key=len, reverse=True)) + ")")
_EN_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"))


def english_figures(text: str) -> list[tuple[str, str]]:
    """Figures a Chinese text writes with a magnitude, and the same figures as English writes
    them: "3.5亿" → "350 million", "83万" → "830,000", "200多万" → "more than 2 million" (a small
    model translating "亿" by itself often gets the power of ten wrong)."""
    pairs = [(re.sub(r"\s+", "", match.group(0)), _in_english(match.group(0)))
             for match in _ZH_MAGNITUDE.finditer(text)]
    return list(dict.fromkeys(pairs))


def figures_in_english(text: str) -> str:
    """The text with each figure written with a Chinese magnitude put as English writes it:
    "每年3.5亿至10亿美元" → "每年350 million至1 billion美元" (what a small model translating the
    sentence then copies, rather than working out the power of ten)."""
    return _ZH_MAGNITUDE.sub(lambda match: _in_english(match.group(0)), text)


def _in_english(written: str) -> str:
    number = _DIGITS.match(written)
    assert number is not None  # _ZH_MAGNITUDE starts with a figure
    value = Decimal(_scaled(_plain_number(number.group(0)), written, number.end())[0])
    for scale, word in _EN_SCALES:
        if value >= scale:
            english = f"{format((value / scale).normalize(), 'f')} {word}"
            break
    else:
        english = f"{int(value):,}" if value == value.to_integral_value() else format(value.normalize(), "f")
    return f"more than {english}" if any(c in written for c in _APPROXIMATE) else english


def written_figures(text: str) -> set[str]:
    """The digit figures as a text writes them, before any magnitude after them: "200多万" → "200",
    "3.5亿" → "3.5" (what a model copying the figure out of the text may give)."""
    return {_plain_number(match.group(0)) for match in _DIGITS.finditer(text)}


def numbers_in(text: str) -> set[str]:
    """The numbers a text states, written as digits whatever their script: "28", "七项" → "7",
    "二十八" → "28", "seven" → "7", "twenty-eight" → "28", "1,000" → "1000", "3.5" → "3.5",
    "100亿" and "10 billion" → "10000000000". Chinese numerals inside words ("一些", "统一") are
    not numbers."""
    found: set[str] = set()
    spans: list[tuple[int, int]] = []
    for match in _DIGITS.finditer(text):
        value, end = _scaled(_plain_number(match.group(0)), text, match.end())
        found.add(value)
        if end > match.end():
            spans.append((match.end(), end))
    for start, end in reversed(spans):  # a magnitude read with its figure is no number of its own
        text = text[:start] + " " * (end - start) + text[end:]
    cleaned = _NOT_A_NUMBER.sub(" ", text)
    for match in _ZH_NUMERAL.finditer(cleaned):
        if len(match.group(0)) == 1 and match.group(0) in "万亿千百":
            continue
        number = _zh_value(match.group(0))
        if number is not None:
            approximate = cleaned[match.end(): match.end() + 1] in tuple(_APPROXIMATE)  # "一百多万"
            found.add(_scaled(str(number), cleaned, match.end())[0] if approximate else str(number))
    read_to = 0  # "thirty-five thousand": the magnitude read with the figure before it
    for match in _EN_NUMBER_WORD.finditer(text):
        if match.start() < read_to:
            continue
        words = re.split(r"[- ]", match.group(0).lower())
        number = 0
        for word in words:
            part = _EN_NUMBERS[word]
            number = number * part if part in (100, 1000) and number else number + part
        value, read_to = _scaled(str(number), text, match.end())
        found.add(value)
    return found
