"""The FAISS side of the index: inner product on normalised vectors (= cosine similarity).

Exact search for small corpora; above a size threshold an approximate index is chosen
(IVF-PQ, which compresses vectors and re-ranks its candidates exactly with the float vectors,
memory-mapped from disk; or HNSW when asked for).
"""

from __future__ import annotations

import logging
import math
import mmap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import faiss as _faiss
import numpy as np

from assistant.atomic import replacing
from assistant.config import FaissKind, Settings

# faiss's bundled stubs lack SearchParametersHNSW, the `sel` keyword and the index-specific
# attributes (hnsw, nprobe); the module is used untyped.
faiss: Any = _faiss

log = logging.getLogger(__name__)
_DEFAULTS = Settings.model_fields  # the settings' defaults are the parameters' defaults


@dataclass(frozen=True)
class AnnParams:
    """Build and search parameters of the approximate indexes (defaults: docs/scaling.md)."""

    hnsw_m: int = _DEFAULTS["hnsw_m"].default
    hnsw_ef_construction: int = _DEFAULTS["hnsw_ef_construction"].default
    hnsw_ef_search: int = _DEFAULTS["hnsw_ef_search"].default
    ivf_lists: int = _DEFAULTS["ivf_lists"].default  # 0 = √n
    ivf_nprobe: int = _DEFAULTS["ivf_nprobe"].default
    ivf_refine: int = _DEFAULTS["ivf_refine"].default  # candidates per wanted hit, re-ranked exactly; 0 = none

    @classmethod
    def from_settings(cls, settings: Settings) -> AnnParams:
        return cls(settings.hnsw_m, settings.hnsw_ef_construction, settings.hnsw_ef_search,
                   settings.ivf_lists, settings.ivf_nprobe, settings.ivf_refine)


def choose_kind(requested: FaissKind, n_vectors: int, approximate_above: int) -> str:
    """`auto`: exact up to the threshold, then IVF-PQ with re-ranking, which kept recall@10 ≥ 0.95 up to
    a million passages where HNSW did not (docs/scaling.md)."""
    if requested != "auto":
        return requested
    return "flat" if n_vectors <= approximate_above else "ivfpq"


def ivf_lists(n: int, requested: int = 0) -> int:
    """IVF clusters: as asked, else √n; never more than n / 39 (FAISS wants ≥ 39 training points each)."""
    lists = requested or int(math.sqrt(max(n, 1)))
    return max(1, min(lists, 65536, n // 39 if n >= 39 else 1))


def pq_code_bytes(dim: int) -> int:
    """Bytes per compressed vector: a quarter of the dimensions (96 for 384: 16× smaller than float32),
    which re-ranking needs — 48-byte codes lost recall at a million passages (docs/scaling.md)."""
    return max(m for m in range(1, max(dim // 4, 1) + 1) if dim % m == 0)


def _build_faiss(kind: str, dim: int, n: int, batches: Iterable[np.ndarray],
                 sample: Callable[[np.ndarray], np.ndarray], params: AnnParams) -> Any:
    """A FAISS index of `n` vectors added batch by batch (only IVF-PQ's training sample is
    gathered at once), so that no second copy of all vectors is held beside the index."""
    index: Any
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params.hnsw_ef_construction
        index.hnsw.efSearch = params.hnsw_ef_search
    elif kind == "ivfpq":
        nlist = ivf_lists(n, params.ivf_lists)
        quantizer = faiss.IndexFlatIP(dim)
        code_bits = max(1, min(8, int(math.log2(max(n, 2)))))  # 256 codewords need ≥ 256 training vectors
        index = faiss.IndexIVFPQ(quantizer, dim, nlist, pq_code_bytes(dim), code_bits, faiss.METRIC_INNER_PRODUCT)
        if n:
            rows = np.sort(np.random.default_rng(0).permutation(n)[: max(nlist * 40, 10_000)])
            index.train(np.ascontiguousarray(sample(rows), dtype=np.float32))
        index.nprobe = params.ivf_nprobe
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


def float_vectors_path(path: Path) -> Path:
    """Where an IVF-PQ index keeps the float vectors it re-ranks with: beside it, as `.npy`."""
    return path.with_suffix(".npy")


def map_vectors(path: Path) -> np.ndarray:
    """A read-only memory map of a saved (n, dim) float32 array, for random row reads: read-ahead is
    turned off, so from a cold cache re-ranking reads the candidates' pages, not 128 KiB around each."""
    with path.open("rb") as handle:
        version = np.lib.format.read_magic(handle)
        shape, fortran, dtype = (np.lib.format.read_array_header_1_0(handle) if version == (1, 0)
                                 else np.lib.format.read_array_header_2_0(handle))
        offset = handle.tell()
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    if fortran or dtype != np.float32 or len(shape) != 2:
        raise ValueError(f"{path} does not hold a C-ordered float32 matrix")
    if hasattr(mapped, "madvise"):
        mapped.madvise(mmap.MADV_RANDOM)
    return np.frombuffer(mapped, dtype=np.float32, count=shape[0] * shape[1], offset=offset).reshape(shape)


class VectorIndex:
    """Nearest passages by inner product; rows are chunk-store rows."""

    def __init__(self, index: Any, kind: str, params: AnnParams | None = None,
                 float_vectors: np.ndarray | None = None) -> None:
        self._index = index
        self.kind = kind
        self.params = params or AnnParams()
        self._float_vectors = float_vectors  # IVF-PQ only: what candidates are re-ranked with

    @classmethod
    def build(cls, vectors: np.ndarray, kind: str, params: AnnParams | None = None) -> VectorIndex:
        params = params or AnnParams()
        index = _build_faiss(kind, vectors.shape[1], len(vectors), [vectors], lambda rows: vectors[rows], params)
        return cls(index, kind, params, vectors if kind == "ivfpq" else None)

    @classmethod
    def build_from_batches(cls, batches: Iterable[np.ndarray], kind: str, dim: int, n: int,
                           sample: Callable[[np.ndarray], np.ndarray],
                           params: AnnParams | None = None) -> VectorIndex:
        """Build from `n` vectors given in row-order batches; `sample(rows)` returns the vectors at
        those rows (IVF-PQ trains on a sample). IVF-PQ also keeps the float vectors it re-ranks
        with, so for it the batches are gathered into one matrix (saved beside the index)."""
        params = params or AnnParams()
        if kind == "ivfpq":
            vectors = np.empty((n, dim), dtype=np.float32)
            filled = 0
            for batch in batches:
                vectors[filled: filled + len(batch)] = batch
                filled += len(batch)
            return cls.build(vectors[:filled], kind, params)
        return cls(_build_faiss(kind, dim, n, batches, sample, params), kind, params)

    @classmethod
    def load(cls, path: Path, kind: str, params: AnnParams | None = None) -> VectorIndex:
        params = params or AnnParams()
        index = faiss.read_index(str(path))
        float_vectors = None
        if kind == "ivfpq" and params.ivf_refine > 0:
            if float_vectors_path(path).is_file():
                # memory-mapped: pages are read as candidates need them, into page cache shared by all workers
                float_vectors = map_vectors(float_vectors_path(path))
            else:
                log.warning("%s has no float vectors beside it: IVF-PQ results are not re-ranked "
                            "(rebuild the index to get them)", path)
        return cls(index, kind, params, float_vectors)

    def with_params(self, params: AnnParams) -> VectorIndex:
        """The same index searched with other search-time parameters (build-time ones are kept)."""
        return VectorIndex(self._index, self.kind, params, self._float_vectors)

    def save(self, path: Path) -> None:
        if self.kind == "ivfpq" and self._float_vectors is not None:
            with replacing(float_vectors_path(path)) as tmp, tmp.open("wb") as handle:
                np.save(handle, np.ascontiguousarray(self._float_vectors, dtype=np.float32))
        with replacing(path) as tmp:
            faiss.write_index(self._index, str(tmp))

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def dim(self) -> int:
        return int(self._index.d)

    @property
    def refines(self) -> bool:
        return self._float_vectors is not None and self.params.ivf_refine > 0

    def _params(self, allowed: np.ndarray | None) -> Any:
        selector = None
        if allowed is not None:
            selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        if self.kind == "hnsw":
            return faiss.SearchParametersHNSW(sel=selector, efSearch=self.params.hnsw_ef_search)
        if self.kind == "ivfpq":
            return faiss.SearchParametersIVF(sel=selector, nprobe=self.params.ivf_nprobe)
        return None if selector is None else faiss.SearchParameters(sel=selector)

    def search(self, queries: np.ndarray, n: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows), each (len(queries), n); missing hits have row -1."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        n = max(1, min(n, self.size)) if self.size else 1
        if self.size == 0:
            return (np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64))
        if not self.refines:
            scores, rows = self._index.search(queries, n, params=self._params(allowed))
            return scores, rows
        fetch = min(self.size, n * self.params.ivf_refine)
        _, candidates = self._index.search(queries, fetch, params=self._params(allowed))
        return self._rerank(queries, candidates, n)

    def _rerank(self, queries: np.ndarray, candidates: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The best `n` of each query's candidates by exact inner product with the float vectors."""
        assert self._float_vectors is not None
        scores = np.full((len(queries), n), -np.inf, dtype=np.float32)
        rows = np.full((len(queries), n), -1, dtype=np.int64)
        for i, query in enumerate(queries):
            found = np.sort(candidates[i][candidates[i] >= 0])  # in file order: fewer page jumps
            exact = np.asarray(self._float_vectors[found] @ query, dtype=np.float32)
            best = np.argsort(-exact, kind="stable")[:n]
            scores[i, : len(best)], rows[i, : len(best)] = exact[best], found[best]
        return scores, rows
