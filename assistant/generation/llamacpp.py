"""A LangChain chat model that runs a GGUF model in this process with llama.cpp.

The prompt is formatted with the model's own chat template and tokenized here, so that the
answerability judgement and the writing that follows it share their start token for token and
llama.cpp evaluates that start once (it keeps the longest common prefix of the previous
evaluation). The judgement reads the probabilities of "yes" and "no" off the logits of the
prompt's last token: no token is generated for it.

A reply that must be in English (`reply_lang="en"`) cannot contain Chinese characters: their
tokens are masked while it is sampled, so a small model that would leave a term untranslated
("multilateral and多方 entities") has to put it in English.
"""

from __future__ import annotations

import ctypes
import logging
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from assistant.generation.cpu_backend import load_cpu_backend, physical_cores

log = logging.getLogger(__name__)

_ROLES = {"human": "user", "ai": "assistant", "system": "system"}
_YES_WORDS = ("Yes", "yes", "YES", " Yes", " yes", "是")
_NO_WORDS = ("No", "no", "NO", " No", " no", "否")


def _chat_format(path: Path, metadata: dict[str, str], hint: str | None) -> str | None:
    """The chat format to use when the GGUF file carries no chat template of its own."""
    if metadata.get("tokenizer.chat_template"):
        return None  # the file's own template
    if hint:
        return hint
    name = (metadata.get("general.architecture", "") + " " + path.name).lower()
    for marker, fmt in (("gemma", "gemma"), ("qwen", "chatml"), ("llama-3", "llama-3"), ("llama3", "llama-3"),
                        ("mistral", "mistral-instruct"), ("phi", "chatml")):
        if marker in name:
            return fmt
    return "chatml"


class LlamaCppChat(BaseChatModel):
    """llama.cpp in-process. One evaluation at a time per model (llama.cpp contexts are not
    thread-safe); the model is loaded on first use."""

    model_path: str
    constrains_reply_language: ClassVar[bool] = True  # honours `reply_lang` (see the module's docstring)
    n_ctx: int = 4096
    n_threads: int = 0  # 0: the physical cores
    max_tokens: int = 320
    temperature: float = 0.1
    seed: int = 0  # the sampler restarts from it for every answer: the same question, the same answer
    flash_attn: bool = False  # llama.cpp's flash attention (`llm_flash_attn`)
    chat_format_hint: str | None = None
    _llama: Any = PrivateAttr(default=None)
    _formatter: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _yes_no: tuple[list[int], list[int]] = PrivateAttr(default=([], []))
    _states: dict[tuple[int, ...], Any] = PrivateAttr(default_factory=dict)  # system prompt → evaluated state
    _system_lengths: dict[str, int] = PrivateAttr(default_factory=dict)
    _cjk_tokens: Any = PrivateAttr(default=None)  # ids of the tokens holding Chinese (CJK) bytes

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def cpu_variant(self) -> str:
        return load_cpu_backend()

    def _model(self) -> Any:
        if self._llama is None:
            from llama_cpp import Llama, llama_chat_format

            variant = load_cpu_backend()
            path = Path(self.model_path)
            if not path.is_file():
                raise FileNotFoundError(f"GGUF model file {path} does not exist")
            llama = Llama(model_path=str(path), n_ctx=self.n_ctx, n_threads=self.n_threads or physical_cores(),
                          n_threads_batch=self.n_threads or physical_cores(), n_batch=512, verbose=False,
                          chat_format=None, flash_attn=self.flash_attn)
            metadata = dict(llama.metadata)
            template = metadata.get("tokenizer.chat_template")
            if template:
                eos = llama._model.token_get_text(llama.token_eos())
                bos = llama._model.token_get_text(llama.token_bos()) if llama.token_bos() >= 0 else ""
                self._formatter = llama_chat_format.Jinja2ChatFormatter(template=template, eos_token=eos,
                                                                        bos_token=bos)
            else:
                fmt = (_chat_format(path, metadata, self.chat_format_hint) or "chatml").replace("-", "_")
                self._formatter = getattr(llama_chat_format, f"format_{fmt}", llama_chat_format.format_chatml)
            self._yes_no = (self._single_tokens(llama, _YES_WORDS), self._single_tokens(llama, _NO_WORDS))
            self._llama = llama
            log.info("loaded %s (CPU variant %s, %d threads)", path.name, variant, self.n_threads or physical_cores())
        return self._llama

    @staticmethod
    def _single_tokens(llama: Any, words: tuple[str, ...]) -> list[int]:
        """The token ids of the words that are one token each (the first token of a reply)."""
        ids = []
        for word in words:
            tokens = llama.tokenize(word.encode("utf-8"), add_bos=False, special=False)
            if len(tokens) == 1 and tokens[0] not in ids:
                ids.append(tokens[0])
        return ids

    @staticmethod
    def _messages(messages: list[BaseMessage]) -> list[dict[str, str]]:
        return [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]

    def _prompt_tokens(self, messages: list[BaseMessage]) -> tuple[list[int], list[str]]:
        llama = self._model()
        formatted = self._formatter(messages=self._messages(messages))
        tokens = llama.tokenize(formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True)
        stop = formatted.stop if isinstance(formatted.stop, list) else [formatted.stop] if formatted.stop else []
        return tokens, stop

    def _system_length(self, messages: list[BaseMessage], tokens: list[int]) -> int:
        """How many of the prompt's tokens the system message and the user turn's opening make:
        the part every prompt with this system message shares."""
        system = str(messages[0].content) if messages and messages[0].type == "system" else ""
        if system not in self._system_lengths:
            probe = self._formatter(messages=[{"role": "system", "content": system},
                                              {"role": "user", "content": "\u2063"}])
            probe_tokens = self._llama.tokenize(probe.prompt.encode("utf-8"), add_bos=not probe.added_special,
                                                special=True)
            self._system_lengths[system] = _shared(probe_tokens, tokens)
        return self._system_lengths[system]

    def _restore_system(self, messages: list[BaseMessage], tokens: list[int]) -> None:
        """Start from the evaluated system prompt: kept from the previous prompt, restored from a
        snapshot of its cache (questions in the other language have another system prompt), or
        evaluated now and snapshotted (a few MB: the sequence's cache, not the whole state)."""
        import llama_cpp

        llama = self._llama
        length = self._system_length(messages, tokens)
        if length < 8 or _shared(llama.input_ids[: llama.n_tokens], tokens) >= length:
            return
        key = tuple(tokens[:length])
        snapshot = self._states.get(key)
        if snapshot is not None:
            buffer, size = snapshot
            if llama_cpp.llama_state_seq_set_data(llama._ctx.ctx, buffer, size, 0) == size:
                llama.input_ids[:length] = key
                llama.n_tokens = length
                llama._requires_eval = True
                return
            log.warning("could not restore the system prompt's cache; evaluating it again")
        llama.reset()
        llama._ctx.kv_cache_seq_rm(-1, 0, -1)
        llama.eval(list(key))
        size = llama_cpp.llama_state_seq_get_size(llama._ctx.ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        size = llama_cpp.llama_state_seq_get_data(llama._ctx.ctx, buffer, size, 0)
        if len(self._states) >= 4:
            self._states.pop(next(iter(self._states)))
        self._states[key] = (buffer, size)

    def _no_cjk(self) -> Any:
        """A logits processor that masks every token holding a CJK character or a piece of one
        (UTF-8 lead bytes E3–E9: U+3000–U+9FFF, CJK punctuation, kana and ideographs)."""
        from llama_cpp import LogitsProcessorList

        llama = self._llama
        if self._cjk_tokens is None:
            self._cjk_tokens = np.asarray(
                [i for i in range(llama.n_vocab())
                 if any(0xE3 <= byte <= 0xE9 for byte in llama.detokenize([i], special=False))], dtype=np.int64)
        banned = self._cjk_tokens

        def mask(_: Any, scores: np.ndarray) -> np.ndarray:
            scores[banned] = -np.inf
            return scores

        return LogitsProcessorList([mask])

    def _evaluate_prompt(self, tokens: list[int]) -> None:
        """Evaluate the prompt, keeping the part it shares with the previous one."""
        llama = self._llama
        # the last token is evaluated again, for its logits
        shared = min(_shared(llama.input_ids[: llama.n_tokens], tokens), len(tokens) - 1)
        if shared > 0 and llama._ctx.kv_cache_seq_rm(-1, shared, -1):
            llama.n_tokens = shared
        else:
            llama.reset()
            shared = 0
        llama.eval(tokens[shared:])
        llama._requires_eval = True

    def prompt_size(self, messages: list[BaseMessage]) -> int:
        with self._lock:
            return len(self._prompt_tokens(messages)[0])

    def yes_probability(self, messages: list[BaseMessage]) -> float | None:
        """P(yes) / (P(yes) + P(no)) for the reply's first token."""
        with self._lock:
            tokens, _ = self._prompt_tokens(messages)
            yes, no = self._yes_no
            if not yes or not no:
                return None
            self._restore_system(messages, tokens)
            self._evaluate_prompt(tokens)
            import llama_cpp

            llama = self._llama
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llama._ctx.ctx, -1), shape=(llama.n_vocab(),))
            top = float(logits.max())
            p_yes = sum(math.exp(float(logits[t]) - top) for t in yes)
            p_no = sum(math.exp(float(logits[t]) - top) for t in no)
            return p_yes / (p_yes + p_no) if p_yes + p_no > 0 else None

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        text = "".join(chunk.text for chunk in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        with self._lock:
            tokens, template_stop = self._prompt_tokens(messages)
            self._restore_system(messages, tokens)
            stream = self._llama.create_completion(
                tokens, stream=True, stop=[*(stop or []), *template_stop],
                max_tokens=kwargs.get("max_tokens", self.max_tokens),
                temperature=kwargs.get("temperature", self.temperature), repeat_penalty=1.05,
                seed=kwargs.get("seed", self.seed),
                logits_processor=self._no_cjk() if kwargs.get("reply_lang") == "en" else None,
            )
            try:
                for part in stream:
                    text = part["choices"][0].get("text") or ""
                    if not text:
                        continue
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                    if run_manager is not None:
                        run_manager.on_llm_new_token(text, chunk=chunk)
                    yield chunk
            finally:
                stream.close()


def _shared(a: Any, b: list[int]) -> int:
    """Length of the common start of two token sequences."""
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count
