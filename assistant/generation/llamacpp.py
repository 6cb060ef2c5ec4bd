"""A LangChain chat model that runs a GGUF model in this process with llama.cpp."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

log = logging.getLogger(__name__)

_ROLES = {"human": "user", "ai": "assistant", "system": "system"}


def _chat_format(path: Path, metadata: dict[str, str]) -> str | None:
    """The chat format to use when the GGUF file carries no chat template of its own."""
    if metadata.get("tokenizer.chat_template"):
        return None  # llama.cpp uses the file's own template
    name = (metadata.get("general.architecture", "") + " " + path.name).lower()
    for marker, fmt in (("gemma", "gemma"), ("qwen", "chatml"), ("llama-3", "llama-3"), ("llama3", "llama-3"),
                        ("mistral", "mistral-instruct"), ("phi", "chatml")):
        if marker in name:
            return fmt
    return "chatml"


class LlamaCppChat(BaseChatModel):
    """llama.cpp in-process. One generation at a time per model (llama.cpp contexts are not
    thread-safe); the model is loaded on first use."""

    model_path: str
    n_ctx: int = 4096
    n_threads: int = 0  # 0: all cores
    max_tokens: int = 512
    temperature: float = 0.1
    _llama: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def _model(self) -> Any:
        if self._llama is None:
            import os

            from llama_cpp import Llama

            path = Path(self.model_path)
            if not path.is_file():
                raise FileNotFoundError(f"GGUF model file {path} does not exist")
            probe = Llama(model_path=str(path), vocab_only=True, verbose=False)
            chat_format = _chat_format(path, dict(probe.metadata))
            del probe
            self._llama = Llama(model_path=str(path), n_ctx=self.n_ctx, n_threads=self.n_threads or os.cpu_count(),
                                chat_format=chat_format, verbose=False)
            log.info("loaded %s (chat format: %s)", path.name, chat_format or "from the file")
        return self._llama

    @staticmethod
    def _messages(messages: list[BaseMessage]) -> list[dict[str, str]]:
        return [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        text = "".join(chunk.text for chunk in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        with self._lock:
            stream = self._model().create_chat_completion(
                messages=self._messages(messages), stream=True, stop=stop,
                max_tokens=kwargs.get("max_tokens", self.max_tokens),
                temperature=kwargs.get("temperature", self.temperature),
            )
            for part in stream:
                text = part["choices"][0]["delta"].get("content") or ""
                if not text:
                    continue
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                if run_manager is not None:
                    run_manager.on_llm_new_token(text, chunk=chunk)
                yield chunk
