"""The FAISS side of the index: inner product on normalised vectors (= cosine similarity).

Exact search for small corpora; above a size threshold an approximate index is chosen
(HNSW, or IVF-PQ when asked for, which compresses vectors for very large corpora).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import faiss as _faiss
import numpy as np

from assistant.config import FaissKind

# faiss's bundled stubs lack SearchParametersHNSW, the `sel` keyword and the index-specific
# attributes (hnsw, nprobe); the module is used untyped.
faiss: Any = _faiss

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
IVF_NPROBE = 24


def choose_kind(requested: FaissKind, n_vectors: int, approximate_above: int) -> str:
    if requested != "auto":
        return requested
    return "flat" if n_vectors <= approximate_above else "hnsw"


def _build_faiss(kind: str, dim: int, n: int, batches: Iterable[np.ndarray],
                 sample: Callable[[np.ndarray], np.ndarray]) -> Any:
    """A FAISS index of `n` vectors added batch by batch (only IVF-PQ's training sample is
    gathered at once), so that no second copy of all vectors is held beside the index."""
    index: Any
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    elif kind == "ivfpq":
        nlist = max(16, min(65536, int(4 * np.sqrt(max(n, 1)))))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFPQ(quantizer, dim, nlist, dim // 8, 8, faiss.METRIC_INNER_PRODUCT)
        index.train(np.ascontiguousarray(
            sample(np.random.default_rng(0).permutation(n)[: max(nlist * 40, 10_000)]), dtype=np.float32))
        index.nprobe = IVF_NPROBE
    else:
        raise ValueError(f"unknown FAISS index kind '{kind}': use auto, flat, hnsw or ivfpq")
    for batch in batches:
        if len(batch):
            index.add(np.ascontiguousarray(batch, dtype=np.float32))
    return index


class DenseIndex(Protocol):
    """What retrieval needs from a vector store (FAISS here, Qdrant in `qdrant.py`)."""

    kind: str

    @property
    def size(self) -> int: ...

    @property
    def dim(self) -> int: ...

    def search(self, queries: np.ndarray, n: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]: ...


class VectorIndex:
    """Nearest passages by inner product; rows are chunk-store rows."""

    def __init__(self, index: Any, kind: str) -> None:
        self._index = index
        self.kind = kind

    @classmethod
    def build(cls, vectors: np.ndarray, kind: str) -> VectorIndex:
        return cls(_build_faiss(kind, vectors.shape[1], len(vectors), [vectors], lambda rows: vectors[rows]), kind)

    @classmethod
    def build_from_batches(cls, batches: Iterable[np.ndarray], kind: str, dim: int, n: int,
                           sample: Callable[[np.ndarray], np.ndarray]) -> VectorIndex:
        """Build from `n` vectors given in row-order batches; `sample(rows)` returns the vectors
        at those rows (IVF-PQ trains on a sample)."""
        return cls(_build_faiss(kind, dim, n, batches, sample), kind)

    @classmethod
    def load(cls, path: Path, kind: str) -> VectorIndex:
        index = faiss.read_index(str(path))
        if kind == "hnsw":
            index.hnsw.efSearch = HNSW_EF_SEARCH
        elif kind == "ivfpq":
            index.nprobe = IVF_NPROBE
        return cls(index, kind)

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        faiss.write_index(self._index, str(tmp))
        os.replace(tmp, path)

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def _params(self, allowed: np.ndarray | None) -> Any:
        if allowed is None:
            return None
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        if self.kind == "hnsw":
            return faiss.SearchParametersHNSW(sel=selector, efSearch=HNSW_EF_SEARCH)
        if self.kind == "ivfpq":
            return faiss.SearchParametersIVF(sel=selector, nprobe=IVF_NPROBE)
        return faiss.SearchParameters(sel=selector)

    def search(self, queries: np.ndarray, n: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows), each (len(queries), n); missing hits have row -1."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        n = max(1, min(n, self.size)) if self.size else 1
        if self.size == 0:
            return (np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64))
        scores, rows = self._index.search(queries, n, params=self._params(allowed))
        return scores, rows
