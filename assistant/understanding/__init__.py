"""Understanding a question once: its language, terms, answer kind, identifiers and names, as a
typed `Query` that retrieval, evidence selection, answerability and the answerers all read."""

from assistant.understanding.analyzer import (
    QueryAnalyzer,
    QuestionError,
    asked_nouns,
    identifiers,
    list_nouns,
    validate_question,
)
from assistant.understanding.kinds import answer_kind

__all__ = [
    "QueryAnalyzer",
    "QuestionError",
    "answer_kind",
    "asked_nouns",
    "identifiers",
    "list_nouns",
    "validate_question",
]
