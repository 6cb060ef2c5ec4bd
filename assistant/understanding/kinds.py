"""What kind of answer a question asks for (a quantity, a date, a list…), read off its question
words with the patterns in `assistant/data/answer_kinds.tsv`."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from assistant.lazy import once
from assistant.types import AnswerKind, Lang

log = logging.getLogger(__name__)

KINDS_FILE = Path(__file__).resolve().parent.parent / "data" / "answer_kinds.tsv"
PATTERNS_FILE = Path(__file__).resolve().parent.parent / "data" / "answer_patterns.tsv"


def read_patterns(path: Path = KINDS_FILE) -> list[tuple[AnswerKind, str, re.Pattern[str]]]:
    """(kind, language, pattern) in the file's order, which is the order they are tried in."""
    patterns = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or parts[1] not in ("zh", "en"):
            log.warning("%s:%d: expected 'kind<TAB>zh|en<TAB>pattern'; line skipped", path, number)
            continue
        patterns.append((AnswerKind(parts[0]), parts[1], re.compile(parts[2], re.I)))
    return patterns


@once
def _patterns() -> list[tuple[AnswerKind, str, re.Pattern[str]]]:
    return read_patterns()


def answer_kind(question: str, lang: Lang) -> AnswerKind:
    """The first kind whose pattern, in the question's language, matches; OPEN when none does."""
    for kind, pattern_lang, pattern in _patterns():
        if pattern_lang == lang and pattern.search(question):
            return kind
    return AnswerKind.OPEN


# where a question asks a second thing: a new question after "?" or "？", after a comma or
# semicolon (Chinese), or after "and" / a comma followed by a question word (English)
_PART_BREAKS = {
    "zh": re.compile(r"[？?；;，,]\s*"),
    "en": re.compile(r"\?\s*|[;,]?\s+and\s+(?=(?:what|which|who|whom|whose|when|where|why|how)\b)|"
                     r"[;,]\s*(?=(?:what|which|who|whom|whose|when|where|why|how)\b)", re.I),
}

# a part that asks something: a question word, or (English) a yes/no question's opening verb
_ASKS = {
    "zh": re.compile(r"什么|哪|谁|多少|几|何|吗|怎|如何|为什么|是否|多久|多长"),
    "en": re.compile(r"\b(?:what|which|who|whom|whose|when|where|why|how)\b|"
                     r"^\s*(?:is|are|was|were|do|does|did|can|could|would|will|should|has|have|had)\b", re.I),
}


def asked_kinds(question: str, lang: Lang) -> tuple[AnswerKind, ...]:
    """The kinds of answer each part of a question asks for, in order ("When did they agree, and
    what was it meant to do?" asks for a date and a definition). A part without a question word
    of its own belongs to the part it follows; a question of one part gives one kind."""
    parts = [part for part in _PART_BREAKS[lang].split(question) if _ASKS[lang].search(part)]
    return tuple(answer_kind(part, lang) for part in parts) if len(parts) > 1 else (answer_kind(question, lang),)


@once
def answer_patterns() -> dict[str, re.Pattern[str]]:
    """How an answer of each kind is written (`assistant/data/answer_patterns.tsv`): "quantity",
    "date", "duration", "frequency"."""
    alternatives: dict[str, list[str]] = {}
    for line in PATTERNS_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#") and "\t" in line:
            kind, pattern = line.split("\t", 1)
            alternatives.setdefault(kind.strip(), []).append(f"(?:{pattern.strip()})")
    return {kind: re.compile("|".join(parts), re.I) for kind, parts in alternatives.items()}


def gives_answer_of_kind(text: str, kind: AnswerKind) -> bool:
    """Whether a sentence holds an answer of the kind (a figure, a date…); False for kinds
    without a written form (a reason, a definition)."""
    pattern = answer_patterns().get(kind.value)
    return bool(pattern and pattern.search(text))
