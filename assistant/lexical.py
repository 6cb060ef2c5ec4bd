"""Words for keyword search: jieba for Chinese, lower-cased stemmed words for English.

The same `tokenize` runs over passages at build time and over questions at query time, on
the normalised form of the text (full-width → half-width, Traditional → Simplified).
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from assistant.language import CJK_CHARS, normalize_for_match, to_simplified
from assistant.lazy import once

_DATA = Path(__file__).parent / "data"


def _word_list(name: str) -> frozenset[str]:
    lines = (_DATA / name).read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip() for w in lines if w.strip() and not w.startswith("#"))


_ZH_STOP = _word_list("stopwords_zh.txt")
_EN_STOP = _word_list("stopwords_en.txt")


def _domain_words() -> list[str]:
    """Words jieba keeps whole: the glossary's Chinese forms and the domain term list."""
    words = set(_word_list("domain_terms.txt"))
    for line in (_DATA / "glossary.tsv").read_text(encoding="utf-8").splitlines():
        if "\t" in line and not line.startswith("#"):
            words.update(w.strip() for w in line.split("\t")[1].split("|"))
    return sorted(w for w in words if len(w) >= 2 and re.fullmatch(f"[{CJK_CHARS}]+", w))


# Changes to the word lists change how text is split, so they are part of the index recipe.
TOKENIZER_VERSION = "2-" + hashlib.sha1(
    "\n".join([*_domain_words(), *sorted(_ZH_STOP), *sorted(_EN_STOP)]).encode()).hexdigest()[:10]


@once
def _irregular() -> dict[str, str]:
    lines = (_DATA / "irregular_verbs.tsv").read_text(encoding="utf-8").splitlines()
    return dict(line.split("\t", 1) for line in lines if "\t" in line and not line.startswith("#"))


def lemmas(word: str) -> list[str]:
    """An English word and the forms a dictionary may list it under: its verb when it is an
    irregular past form ("found" → "find"), and what stripping a regular ending leaves
    ("policies" → "policy", "required" → "requir", "require")."""
    forms = [word, *([_irregular()[word]] if word in _irregular() else [])]
    for suffix, replacement in (("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""),
                                ("ing", "e"), ("ly", ""), ("al", ""), ("ment", ""), ("ation", "e"), ("ation", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            forms.append(word[: -len(suffix)] + replacement)
    return forms


def is_stop_word(word: str) -> bool:
    return word in _EN_STOP or word in _ZH_STOP
_TOKEN_RE = re.compile(rf"[{CJK_CHARS}]+|[a-z0-9]+(?:[.\-][a-z0-9]+)*")


@once
def _stemmer() -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@once
def _jieba() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for word in _domain_words():
        tokenizer.add_word(to_simplified(word))
    return tokenizer


_PERSON_TAGS = frozenset({"nr", "nrfg", "nrt"})


@once
def _tagger() -> Any:
    """jieba's part-of-speech tagger over the same words (those the domain list adds are untagged)."""
    import jieba.posseg

    return jieba.posseg.POSTokenizer(_jieba())


def person_names(text: str) -> list[str]:
    """The words of two or more Chinese characters that jieba's tagger tags as a person's name
    (its dictionary tags some common words so too: "显微镜")."""
    return [word for word, tag in _tagger().cut(to_simplified(text))
            if tag in _PERSON_TAGS and len(word) >= 2 and all(char >= "\u3400" for char in word)]


_stem_lock = threading.Lock()


@lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    """The English stem of a lower-case word. The snowball stemmer keeps state in the object,
    so calls are serialised; the cache makes that cheap."""
    with _stem_lock:
        return str(_stemmer().stemWord(word))


def chinese_words(text: str) -> list[str]:
    """A run of Chinese as jieba cuts it into words (each character once, in order)."""
    return [w for w in _jieba().cut(text) if w.strip()]


def tokenize(text: str) -> list[str]:
    """Search terms of `text`: jieba words (search mode, so compounds also yield their parts)
    for Chinese, stemmed words for English; stop words and punctuation dropped."""
    normalised = normalize_for_match(text)
    tokens: list[str] = []
    for run in _TOKEN_RE.findall(normalised):
        if run[0] >= "\u3400":
            for word in _jieba().cut_for_search(run):
                if word not in _ZH_STOP:
                    tokens.append(word)
        elif run not in _EN_STOP and not (run.isdigit() and len(run) == 1):
            tokens.append(stem(run) if run.isalpha() else run)
    return tokens
