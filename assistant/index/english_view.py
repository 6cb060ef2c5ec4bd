"""An English reading of every passage, for keyword search by English questions.

Each Chinese word of a passage's search tokens is replaced by the first few words of its
dictionary glosses (CC-CEDICT: 监管 → "supervis", "regul"); English tokens are kept as they are.
BM25 over these readings matches an English question's own words against Chinese passages,
word by word and with every sense the dictionary gives, where translating the question picks
only a couple of Chinese words per English one. Single-character Chinese words are left out:
their glosses span too many senses to be evidence of anything.

The readings are built with the index when the settings use them (`english_view/` beside
`bm25.npz`) and otherwise — an index built before them, with other rules, or with them off — on
first use.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from assistant.atomic import write_atomic
from assistant.glossary import chinese_to_english
from assistant.index.bm25 import BM25Index
from assistant.language import cjk_count
from assistant.lexical import is_stop_word, stem

log = logging.getLogger(__name__)

GLOSS_WORDS = 4  # English words kept per Chinese word, in the dictionary's order
MIN_CHINESE_LENGTH = 2
# what the readings depend on besides the dictionary: change it when the rules above change
VERSION = f"1-{GLOSS_WORDS}-{MIN_CHINESE_LENGTH}"
FOLDER = "english_view"


def english_reading(tokens: Sequence[str]) -> list[str]:
    """A passage's search tokens read in English: each Chinese word as its first `GLOSS_WORDS`
    distinct gloss stems (stop words skipped), English and other tokens unchanged."""
    glosses = chinese_to_english()
    reading: list[str] = []
    for token in tokens:
        if not cjk_count(token):
            reading.append(token)
            continue
        if len(token) < MIN_CHINESE_LENGTH:
            continue
        words: list[str] = []
        for gloss in glosses.get(token, ()):
            word = stem(gloss)
            if is_stop_word(gloss) or word in words:
                continue
            words.append(word)
            if len(words) >= GLOSS_WORDS:
                break
        reading.extend(words)
    return reading


def build(token_lists: Iterable[Sequence[str]]) -> BM25Index:
    return BM25Index.build(english_reading(tokens) for tokens in token_lists)


def save(view: BM25Index, folder: Path) -> None:
    target = folder / FOLDER
    target.mkdir(parents=True, exist_ok=True)
    view.save(target)
    write_atomic(target / "version.txt", VERSION)  # written last: a view without it is rebuilt


def load(folder: Path) -> BM25Index | None:
    """The saved view, or None when there is none or it was made by other rules."""
    target = folder / FOLDER
    try:
        if (target / "version.txt").read_text(encoding="utf-8").strip() != VERSION:
            return None
        return BM25Index.load(target)
    except (OSError, ValueError, KeyError):
        return None


class EnglishView:
    """The view of one index version, loaded or built on first use, once, thread-safe."""

    def __init__(self, folder: Path, token_lists: Callable[[], Iterable[Sequence[str]]], size: int) -> None:
        self._folder = folder
        self._token_lists = token_lists
        self._size = size
        self._lock = threading.Lock()
        self._view: BM25Index | None = None

    def get(self) -> BM25Index:
        with self._lock:
            if self._view is None:
                view = load(self._folder)
                if view is None or view.size != self._size:
                    log.info("reading the index's %d passages in English for keyword search "
                             "(built once per process for an index made before the readings)", self._size)
                    view = build(self._token_lists())
                self._view = view
            return self._view
