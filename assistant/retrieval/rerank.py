"""Reranking the fused candidates with a closer look at each one.

* `SentenceMaxSimReranker` (offline default): a candidate's score is its best-matching
  sentence's similarity to the question, from sentence vectors computed at index time, so
  that a passage answering with one precise sentence is not drowned by its other sentences.
* `CrossEncoderReranker`: a sentence-transformers cross-encoder (e.g. BAAI/bge-reranker-v2-m3)
  reading question and passage together; needs the model on disk or a network to fetch it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from assistant.index.store import StoredChunk

log = logging.getLogger(__name__)


class RerankerError(RuntimeError):
    """A reranker cannot be loaded; the message says what to do."""


class Reranker(Protocol):
    @property
    def id(self) -> str: ...

    def scores(self, question: str, query_vector: np.ndarray,
               candidates: Sequence[StoredChunk]) -> np.ndarray:
        """One score per candidate; higher is better. Scale is the reranker's own."""
        ...


class SentenceMaxSimReranker:
    id = "sentence-maxsim"

    def scores(self, question: str, query_vector: np.ndarray,
               candidates: Sequence[StoredChunk]) -> np.ndarray:
        out = np.empty(len(candidates), dtype=np.float32)
        for i, candidate in enumerate(candidates):
            vectors = candidate.sentence_vectors
            whole = float(candidate.vector @ query_vector)
            out[i] = max(whole, float((vectors @ query_vector).max())) if len(vectors) else whole
        return out


class CrossEncoderReranker:
    def __init__(self, model_name_or_path: str, max_length: int = 512) -> None:
        from sentence_transformers import CrossEncoder

        try:
            self._model = CrossEncoder(model_name_or_path, device="cpu", max_length=max_length)
        except Exception as err:
            raise RerankerError(
                f"could not load the cross-encoder '{model_name_or_path}' ({err}). Without network "
                "access, download it elsewhere and set ASSISTANT_RERANKER_MODEL to its folder, or set "
                "ASSISTANT_RERANKER=maxsim for the offline reranker") from err
        self._name = model_name_or_path
        self._lock = threading.Lock()

    @property
    def id(self) -> str:
        return f"cross-encoder/{self._name}"

    def scores(self, question: str, query_vector: np.ndarray,
               candidates: Sequence[StoredChunk]) -> np.ndarray:
        if not candidates:
            return np.zeros(0, dtype=np.float32)
        pairs = [(question, c.chunk.text) for c in candidates]
        with self._lock:
            raw = self._model.predict(pairs, show_progress_bar=False, convert_to_numpy=True)
        return np.asarray(raw, dtype=np.float32).reshape(len(candidates))
