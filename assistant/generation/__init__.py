"""Turning evidence into an answer: the `Answerer` protocol; the model answerer (llama.cpp in
process, or any OpenAI-compatible endpoint, through LangChain) and the extractive one that needs
no model; prompts; the bundled models and their installation."""

from assistant.generation.answerers import Answerer, GenerationFailed, ModelAnswerer
from assistant.generation.backends import (
    BackendError,
    ModelChoice,
    bundled_gguf,
    find_choice,
    local_ready,
    make_chat_model,
    model_choices,
    resolve_auto,
)
from assistant.generation.extractive import ExtractiveAnswerer
from assistant.generation.prompting import PromptError, PromptLibrary, neutralise

__all__ = [
    "Answerer",
    "BackendError",
    "ExtractiveAnswerer",
    "GenerationFailed",
    "ModelAnswerer",
    "ModelChoice",
    "PromptError",
    "PromptLibrary",
    "bundled_gguf",
    "find_choice",
    "local_ready",
    "make_chat_model",
    "model_choices",
    "neutralise",
    "resolve_auto",
]
