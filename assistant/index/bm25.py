"""Okapi BM25 over the chunks' search tokens, as a sparse matrix of precomputed term weights.

Scoring a query is one sparse column sum, fast enough for a million passages. The same
scores can come from Qdrant sparse vectors instead (`qdrant_bm25.py`); `LexicalIndex` is
what retrieval needs from either.
"""

from __future__ import annotations

import json
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import scipy.sparse as sp

from assistant.atomic import replacing, write_atomic

K1 = 1.2
B = 0.75

Query = Sequence[str] | Mapping[str, float]  # tokens (repeats count) or token → weight


class LexicalIndex(Protocol):
    """What retrieval needs from keyword search: its terms, their IDF, and BM25 scores."""

    vocabulary: dict[str, int]
    idf: np.ndarray  # per vocabulary column

    @property
    def size(self) -> int: ...

    def search(self, query_tokens: Query, n: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]: ...

    def scores_at(self, query_tokens: Query, rows: Sequence[int] | np.ndarray) -> np.ndarray: ...


def idf_of(n_docs: int, df: np.ndarray) -> np.ndarray:
    """Okapi IDF, ln(1 + (N − df + 0.5) / (df + 0.5)): always positive (Qdrant's `Idf` modifier is the same)."""
    return np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)


def query_columns(vocabulary: Mapping[str, int], query: Query) -> tuple[list[int], np.ndarray]:
    """Vocabulary columns of the query's known terms with a positive weight, and those weights."""
    weights = query if isinstance(query, Mapping) else Counter(query)
    known = {t: w for t, w in weights.items() if t in vocabulary and w > 0}
    return [vocabulary[t] for t in known], np.asarray(list(known.values()), dtype=np.float32)


class BM25Index:
    def __init__(self, vocabulary: dict[str, int], weights: sp.csc_matrix) -> None:
        self.vocabulary = vocabulary
        self.weights = weights  # (n_chunks, n_terms)
        df = np.diff(weights.indptr).astype(np.float32)  # chunks holding each term (CSC columns)
        self.idf = idf_of(weights.shape[0], df)

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]]) -> BM25Index:
        """Build from every chunk's tokens in row order; the lists may be streamed one at a time
        (term counts are kept in compact arrays, not Python lists, so memory stays near the
        final matrix's size)."""
        vocabulary: dict[str, int] = {}
        rows, cols, tfs = array("i"), array("i"), array("f")  # 12 bytes per (chunk, term)
        lengths = array("f")
        for row, tokens in enumerate(token_lists):
            lengths.append(len(tokens))
            for term, count in Counter(tokens).items():
                rows.append(row)
                cols.append(vocabulary.setdefault(term, len(vocabulary)))
                tfs.append(count)
        n_docs = len(lengths)
        length = np.frombuffer(lengths, dtype=np.float32) if n_docs else np.zeros(0, dtype=np.float32)
        tf = np.frombuffer(tfs, dtype=np.float32) if tfs else np.zeros(0, dtype=np.float32)
        col = np.frombuffer(cols, dtype=np.int32) if cols else np.zeros(0, dtype=np.int32)
        row_of = np.frombuffer(rows, dtype=np.int32) if rows else np.zeros(0, dtype=np.int32)
        df = np.bincount(col, minlength=len(vocabulary)).astype(np.float32)
        idf = idf_of(n_docs, df)
        avg = float(length.mean()) if n_docs else 1.0
        norm = K1 * (1 - B + B * length[row_of] / max(avg, 1e-6))
        weight = idf[col] * tf * (K1 + 1) / (tf + norm)
        matrix = sp.csc_matrix((weight, (row_of, col)), shape=(n_docs, len(vocabulary)),
                               dtype=np.float32)
        return cls(vocabulary, matrix)

    @property
    def size(self) -> int:
        return int(self.weights.shape[0])

    def scores(self, query: Query) -> np.ndarray:
        """BM25 score of every chunk for the query (zeros where no term matches).

        `query` is a list of tokens (repeats count) or a mapping of token → weight."""
        cols, vector = query_columns(self.vocabulary, query)
        if not cols:
            return np.zeros(self.weights.shape[0], dtype=np.float32)
        return np.asarray(self.weights[:, cols] @ vector).ravel()

    def scores_at(self, query_tokens: Query, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """BM25 scores of the chunks at `rows` only."""
        rows = np.asarray(rows, dtype=np.int64)
        cols, vector = query_columns(self.vocabulary, query_tokens)
        if not cols or not rows.size:
            return np.zeros(len(rows), dtype=np.float32)
        return np.asarray(self.weights[:, cols][rows] @ vector, dtype=np.float32).ravel()

    def ceiling(self, query: Query) -> float:
        """The most the query could score: each known term at its IDF, saturated (K1 + 1)."""
        cols, vector = query_columns(self.vocabulary, query)
        return float((self.idf[cols] * vector).sum()) * (K1 + 1) if cols else 0.0

    def document_weights(self) -> sp.csr_matrix:
        """The term weights without their IDF factor, a row per chunk: what a store that applies
        IDF itself (Qdrant's `Idf` modifier) is given."""
        rows = self.weights.tocsr()
        return sp.csr_matrix((rows.data / self.idf[rows.indices], rows.indices, rows.indptr), shape=rows.shape,
                             dtype=np.float32)

    def search(self, query_tokens: Query, n: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) of the best `n` chunks with a positive score, best first."""
        scores = self.scores(query_tokens)
        if allowed is not None:
            mask = np.zeros_like(scores, dtype=bool)
            mask[allowed] = True
            scores = np.where(mask, scores, 0.0)
        positive = np.flatnonzero(scores > 0)
        if positive.size > n:
            positive = positive[np.argpartition(-scores[positive], n - 1)[:n]]
        order = positive[np.argsort(-scores[positive], kind="stable")]
        return scores[order], order

    def save(self, folder: Path) -> None:
        with replacing(folder / "bm25.npz") as tmp, tmp.open("wb") as handle:
            sp.save_npz(handle, self.weights.tocsr(), compressed=False)
        write_atomic(folder / "bm25_vocab.json", json.dumps(self.vocabulary, ensure_ascii=False))
        with replacing(folder / "bm25_idf.npy") as tmp, tmp.open("wb") as handle:
            np.save(handle, self.idf)

    @classmethod
    def load(cls, folder: Path) -> BM25Index:
        weights = sp.load_npz(folder / "bm25.npz").tocsc()
        vocabulary = json.loads((folder / "bm25_vocab.json").read_text(encoding="utf-8"))
        return cls(vocabulary, weights)

    @staticmethod
    def load_terms(folder: Path) -> tuple[dict[str, int], np.ndarray]:
        """The vocabulary and IDF alone, without the weight matrix (for BM25 served elsewhere)."""
        if not (folder / "bm25_idf.npy").is_file():  # written since the Qdrant lexical store
            index = BM25Index.load(folder)
            return index.vocabulary, index.idf
        vocabulary = json.loads((folder / "bm25_vocab.json").read_text(encoding="utf-8"))
        return vocabulary, np.load(folder / "bm25_idf.npy")
