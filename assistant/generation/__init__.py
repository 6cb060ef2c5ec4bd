"""Turning passages into an answer: LLM backends through LangChain chat models, prompts, and
the extractive answerer that needs no model."""

from assistant.generation.backends import BackendError, bundled_gguf, make_chat_model
from assistant.generation.extractive import NOT_FOUND, ExtractiveAnswerer
from assistant.generation.prompting import PromptError, PromptLibrary, format_sources, neutralise

__all__ = [
    "NOT_FOUND",
    "BackendError",
    "ExtractiveAnswerer",
    "PromptError",
    "PromptLibrary",
    "bundled_gguf",
    "format_sources",
    "make_chat_model",
    "neutralise",
]
