"""Retrieval: question analysis, dense ∥ keyword search, fusion and reranking."""

from assistant.retrieval.rerank import CrossEncoderReranker, Reranker, RerankerError, SentenceMaxSimReranker
from assistant.retrieval.retriever import HybridRetriever, RetrievalResult, make_reranker, rrf_fuse
from assistant.types import Query
from assistant.understanding import QueryAnalyzer, QuestionError, validate_question

__all__ = [
    "CrossEncoderReranker",
    "HybridRetriever",
    "Query",
    "QueryAnalyzer",
    "QuestionError",
    "Reranker",
    "RerankerError",
    "RetrievalResult",
    "SentenceMaxSimReranker",
    "make_reranker",
    "rrf_fuse",
    "validate_question",
]
