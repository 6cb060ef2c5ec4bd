"""Headings as a ranking of their own: which sections a question names.

A chunk's text starts where its section's body starts, so the heading path above it (a chapter,
an article's title, a byline under it) is not in the text keyword search indexes. Adding the
path to every chunk's keywords lengthens every chunk with the same generic words and hurt the
dev set's tune and check halves alike; instead the distinct section paths form a small keyword
index of their own, and the rows of the best-matching sections become one more ranking in the
fusion (`heading_weight`), ordered by their section's score and then by position.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant.index.bm25 import BM25Index
from assistant.lexical import tokenize


class HeadingIndex:
    def __init__(self, sections: Sequence[str]) -> None:
        distinct = sorted({s for s in sections if s})
        position = {s: i for i, s in enumerate(distinct)}
        self._section_of_row = np.asarray([position.get(s, -1) for s in sections], dtype=np.int64)
        tokens = [tokenize(s.replace(" > ", "\n")) for s in distinct]
        self._tokens = [frozenset(t) for t in tokens]
        self._index = BM25Index.build(tokens) if distinct else None

    def rows(self, terms: dict[str, float], n: int, excluded: np.ndarray | None = None,
             allowed: np.ndarray | None = None, min_share: float = 0.0) -> np.ndarray:
        """Up to `n` rows of the sections whose headings hold at least `min_share` of the weight
        of `terms`, best section first."""
        if self._index is None or n <= 0:
            return np.zeros(0, dtype=np.int64)
        scores = self._index.scores(terms)
        total = sum(terms.values())
        matched = np.asarray([i for i in np.flatnonzero(scores > 0)
                              if sum(w for t, w in terms.items() if t in self._tokens[i]) >= min_share * total],
                             dtype=np.int64)
        if matched.size == 0:
            return np.zeros(0, dtype=np.int64)
        rank_of_section = np.full(scores.size, -1, dtype=np.int64)
        order = matched[np.argsort(-scores[matched], kind="stable")]
        rank_of_section[order] = np.arange(order.size)
        section_rank = np.where(self._section_of_row >= 0, rank_of_section[np.maximum(self._section_of_row, 0)], -1)
        keep = section_rank >= 0
        if excluded is not None:
            keep &= ~excluded
        if allowed is not None:
            mask = np.zeros(keep.size, dtype=bool)
            mask[allowed] = True
            keep &= mask
        rows = np.flatnonzero(keep)
        return rows[np.argsort(section_rank[rows], kind="stable")][:n]
