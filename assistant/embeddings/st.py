"""Any sentence-transformers model, by hub name (downloaded once, if a network exists) or path,
with its model family's query/passage prompts."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from assistant.embeddings.base import EmbedderError, normalise

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
        return normalise(vectors)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._passage_prompt)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._query_prompt)
