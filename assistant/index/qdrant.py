"""The dense side of the index in Qdrant, for corpora and deployments past one machine.

Same interface as the FAISS `VectorIndex` (rows in, (scores, rows) out). With `qdrant_url`
set, each index version is its own collection on the Qdrant cluster (`PREFIX-VERSION`), built
before the version goes live, so readers keep the old collection until the switch. With no
URL, Qdrant runs embedded (qdrant-client's local mode) in each process, filled from the
vectors in the chunk store when the index is opened — what the tests use."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

UPLOAD_BATCH = 512


class QdrantUnavailable(RuntimeError):
    """qdrant-client is missing or the Qdrant server cannot be reached."""


def connect(url: str, api_key: str) -> Any:
    try:
        from qdrant_client import QdrantClient
    except ModuleNotFoundError as err:
        raise QdrantUnavailable("the Qdrant vector store needs qdrant-client: pip install qdrant-client") from err
    if not url:
        return QdrantClient(":memory:")
    return QdrantClient(url=url, api_key=api_key or None, timeout=30)


def check_count(client: Any, collection: str, url: str, expected: int, what: str) -> None:
    """A server collection must hold one point per chunk of the index version that names it."""
    try:
        found = int(client.count(collection, exact=True).count)
    except Exception as err:
        raise QdrantUnavailable(f"Qdrant collection {collection} at {url} cannot be read: {err}") from err
    if found != expected:
        raise ValueError(f"Qdrant collection {collection} holds {found} {what}, the index {expected}: "
                         "rebuild it with `assistant index --rebuild`")


def _batches(vectors: np.ndarray) -> Iterator[tuple[list[int], np.ndarray]]:
    for start in range(0, len(vectors), UPLOAD_BATCH):
        part = vectors[start:start + UPLOAD_BATCH]
        yield list(range(start, start + len(part))), part


class QdrantVectorIndex:
    """Nearest passages by dot product (vectors are normalised: cosine); point ids are chunk rows."""

    kind = "qdrant"

    def __init__(self, client: Any, collection: str, dim: int) -> None:
        self._client = client
        self.collection = collection
        self._dim = dim

    @classmethod
    def create(cls, vectors: np.ndarray, collection: str, url: str = "", api_key: str = "") -> QdrantVectorIndex:
        """Create the collection (replacing one of the same name) and upload the vectors."""
        from qdrant_client import models

        client = connect(url, api_key)
        dim = int(vectors.shape[1])
        try:
            if client.collection_exists(collection):
                client.delete_collection(collection)
            client.create_collection(collection, vectors_config=models.VectorParams(size=dim,
                                                                                      distance=models.Distance.DOT))
            for ids, part in _batches(np.ascontiguousarray(vectors, dtype=np.float32)):
                client.upload_collection(collection, vectors=part, ids=ids, wait=True)
        except QdrantUnavailable:
            raise
        except Exception as err:  # connection refused, auth, server errors
            raise QdrantUnavailable(f"Qdrant at {url or '(embedded)'} failed: {type(err).__name__}: {err}") from err
        log.info("Qdrant collection %s: %d vectors", collection, len(vectors))
        return cls(client, collection, dim)

    @classmethod
    def open(cls, collection: str, url: str, api_key: str, dim: int, expected: int,
             vectors: np.ndarray | None = None) -> QdrantVectorIndex:
        """Connect to the version's collection; embedded mode rebuilds it from `vectors`."""
        if not url:
            if vectors is None:
                raise ValueError("embedded Qdrant needs the vectors to load")
            return cls.create(vectors, collection)
        index = cls(connect(url, api_key), collection, dim)
        check_count(index._client, collection, url, expected, "vectors")
        return index

    @property
    def size(self) -> int:
        return int(self._client.count(self.collection, exact=True).count)

    @property
    def dim(self) -> int:
        return self._dim

    def search(self, queries: np.ndarray, n: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows), each (len(queries), n); missing hits have row -1 and score -inf."""
        from qdrant_client import models

        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        query_filter = None
        if allowed is not None:
            query_filter = models.Filter(must=[models.HasIdCondition(has_id=[int(r) for r in allowed])])
        requests = [models.QueryRequest(query=q.tolist(), limit=max(1, n), filter=query_filter) for q in queries]
        responses = self._client.query_batch_points(self.collection, requests=requests)
        scores = np.full((len(queries), max(1, n)), -np.inf, dtype=np.float32)
        rows = np.full((len(queries), max(1, n)), -1, dtype=np.int64)
        for i, response in enumerate(responses):
            for j, point in enumerate(response.points[:n]):
                scores[i, j] = point.score
                rows[i, j] = int(point.id)
        return scores, rows

    def drop(self) -> None:
        self._client.delete_collection(self.collection)
