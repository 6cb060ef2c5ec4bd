"""Any OpenAI-compatible `/v1/embeddings` endpoint (vLLM, Ollama, llama.cpp server, OpenAI…)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant.embeddings.base import EmbedderError, normalise


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
        return normalise(np.asarray(rows, dtype=np.float32))

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
