"""The keyword (BM25) side of the index in Qdrant, as sparse vectors beside the passage vectors.

Same interface as the embedded `BM25Index` (`LexicalIndex`), same scores: each chunk is a
sparse vector over our own vocabulary (jieba / stemmed words from `assistant.lexical`) whose
values are the BM25 term weights without IDF, tf·(k1+1) / (tf + k1·(1 − b + b·len/avglen));
the collection's sparse vector has Qdrant's `Idf` modifier, whose formula,
ln(1 + (N − df + 0.5) / (df + 0.5)), is ours, so Qdrant's dot product with the query's term
weights is our BM25 score. The vocabulary and IDF stay on disk beside the index (the query
analyser and the coverage scores need them); the weight matrix does not have to be loaded.

With `qdrant_url` set the collection (`<vector collection>-bm25`) is created at build time;
without, Qdrant runs embedded and the collection is filled from `bm25.npz` when the index opens.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.index.bm25 import BM25Index, Query, query_columns
from assistant.index.qdrant import UPLOAD_BATCH, QdrantUnavailable, check_count, connect

log = logging.getLogger(__name__)

SPARSE_VECTOR = "bm25"


def lexical_collection(vector_collection: str) -> str:
    return f"{vector_collection}-bm25"


class QdrantBM25Index:
    """BM25 scores from a Qdrant collection of per-chunk sparse vectors; point ids are chunk rows."""

    def __init__(self, client: Any, collection: str, vocabulary: dict[str, int], idf: np.ndarray,
                 size: int) -> None:
        self._client = client
        self.collection = collection
        self.vocabulary = vocabulary
        self.idf = idf
        self._size = size

    @classmethod
    def create(cls, bm25: BM25Index, collection: str, url: str = "", api_key: str = "") -> QdrantBM25Index:
        """Create the collection (replacing one of the same name) and upload every chunk's term weights.

        Chunks without terms get an empty sparse vector, so that they count in Qdrant's N as in ours."""
        from qdrant_client import models

        client = connect(url, api_key)
        weights = bm25.document_weights()
        try:
            if client.collection_exists(collection):
                client.delete_collection(collection)
            client.create_collection(collection, vectors_config={}, sparse_vectors_config={
                SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)})
            for start in range(0, bm25.size, UPLOAD_BATCH):
                points = []
                for row in range(start, min(start + UPLOAD_BATCH, bm25.size)):
                    begin, end = weights.indptr[row], weights.indptr[row + 1]
                    vector = models.SparseVector(indices=weights.indices[begin:end].tolist(),
                                                 values=weights.data[begin:end].tolist())
                    points.append(models.PointStruct(id=row, vector={SPARSE_VECTOR: vector}))
                client.upsert(collection, points=points, wait=True)
        except QdrantUnavailable:
            raise
        except Exception as err:  # connection refused, auth, server errors
            raise QdrantUnavailable(f"Qdrant at {url or '(embedded)'} failed: {type(err).__name__}: {err}") from err
        log.info("Qdrant collection %s: BM25 weights of %d chunks", collection, bm25.size)
        return cls(client, collection, bm25.vocabulary, bm25.idf, bm25.size)

    @classmethod
    def open(cls, folder: Path, collection: str, url: str, api_key: str, expected: int) -> QdrantBM25Index:
        """Connect to the version's collection; embedded mode fills it from the index folder's BM25."""
        if not url:
            return cls.create(BM25Index.load(folder), collection)
        vocabulary, idf = BM25Index.load_terms(folder)
        index = cls(connect(url, api_key), collection, vocabulary, idf, expected)
        check_count(index._client, collection, url, expected, "chunks' BM25 weights")
        return index

    @property
    def size(self) -> int:
        return self._size

    def _filter(self, allowed: np.ndarray | None) -> Any:
        """Only `allowed` rows; named by the smaller of the allowed set and its complement, since
        the retriever's usual filter is "everything but the reference lists"."""
        from qdrant_client import models

        if allowed is None:
            return None
        keep = np.zeros(self._size, dtype=bool)
        keep[np.asarray(allowed, dtype=np.int64)] = True
        if keep.sum() <= self._size // 2:
            return models.Filter(must=[models.HasIdCondition(has_id=[int(r) for r in np.flatnonzero(keep)])])
        return models.Filter(must_not=[models.HasIdCondition(has_id=[int(r) for r in np.flatnonzero(~keep)])])

    def search(self, query_tokens: Query, n: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) of the best `n` chunks with a positive score, best first."""
        from qdrant_client import models

        cols, weights = query_columns(self.vocabulary, query_tokens)
        if not cols or n <= 0 or (allowed is not None and len(allowed) == 0):
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        response = self._client.query_points(
            self.collection, query=models.SparseVector(indices=cols, values=weights.tolist()),
            using=SPARSE_VECTOR, limit=n, query_filter=self._filter(allowed))
        points = [p for p in response.points if p.score > 0]
        return (np.asarray([p.score for p in points], dtype=np.float32),
                np.asarray([int(p.id) for p in points], dtype=np.int64))

    def scores_at(self, query_tokens: Query, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """BM25 scores of the chunks at `rows` only: their sparse vectors fetched and scored here."""
        rows = np.asarray(rows, dtype=np.int64)
        cols, weights = query_columns(self.vocabulary, query_tokens)
        out = np.zeros(len(rows), dtype=np.float32)
        if not cols or not rows.size:
            return out
        query = dict(zip(cols, weights * self.idf[cols], strict=True))
        records = self._client.retrieve(self.collection, ids=[int(r) for r in rows], with_vectors=[SPARSE_VECTOR])
        position = {int(r): i for i, r in enumerate(rows)}
        for record in records:
            vector = record.vector[SPARSE_VECTOR]
            out[position[int(record.id)]] = sum(query.get(i, 0.0) * v for i, v in
                                                zip(vector.indices, vector.values, strict=True))
        return out

    def drop(self) -> None:
        self._client.delete_collection(self.collection)
