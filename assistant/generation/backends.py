"""Which answer models exist, by name, and the LangChain chat model behind each.

Readers pick among names the operator configured — never a file path: `auto` (the bundled model
when it is installed, else quotes), `extractive` (quotes, no model), `local` (the configured
local model), `local:<name>` (a bundled model or one of `local_models`), and `openai` (the
configured OpenAI-compatible endpoint). A local model is a bundled model's name, a GGUF file
the operator configured, or a hub reference (`hf:Qwen/Qwen2.5-7B-Instruct-GGUF/qwen2.5-7b-instruct-q4_k_m.gguf`,
downloaded by llama-cpp-python where a network allows).
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

from langchain_core.language_models.chat_models import BaseChatModel

from assistant.config import Settings
from assistant.generation.bundled import BUNDLED, DEFAULT_MODEL, ModelInstallError, assemble, installed_models

log = logging.getLogger(__name__)


class BackendError(RuntimeError):
    """An answer model cannot be set up or is not on offer; the message says what to do."""


@dataclass(frozen=True)
class ModelChoice:
    name: str  # what readers pick: "auto", "extractive", "local", "local:gemma3-270m", "openai"
    backend: str  # "extractive", "local" or "openai"
    spec: str = ""  # local: bundled name, GGUF path or hub reference; openai: the model name
    label_zh: str = ""
    label_en: str = ""

    def label(self, lang: str) -> str:
        return (self.label_zh if lang == "zh" else self.label_en) or self.name


def llama_available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def _local_spec(settings: Settings) -> str:
    return settings.llm_model_path or settings.local_model


def local_ready(settings: Settings) -> bool:
    """Whether the configured local model can be run here without a download: llama.cpp is
    installed and the model is a bundled one whose parts are installed, or an existing file."""
    if not llama_available():
        return False
    spec = _local_spec(settings)
    if spec in BUNDLED:
        return BUNDLED[spec].installed()
    return Path(spec).is_file()


def resolve_auto(settings: Settings) -> str:
    """The backend `auto` stands for: the local model when it is ready, otherwise quotes."""
    return "local" if local_ready(settings) else "extractive"


def model_choices(settings: Settings) -> list[ModelChoice]:
    """The names a reader may pick on the page or in the API, with labels in both languages."""
    default = resolve_auto(settings)
    choices = [
        ModelChoice("auto", default, _local_spec(settings) if default == "local" else "", label_zh="自动（默认）",
                    label_en="Automatic (default)"),
        ModelChoice("extractive", "extractive", label_zh="只引用原文（不用模型）",
                    label_en="Quotes only (no model)"),
    ]
    if llama_available():
        spec = _local_spec(settings)
        label = BUNDLED[spec].label if spec in BUNDLED else Path(spec).name
        choices.append(ModelChoice("local", "local", spec, f"本地模型：{label}", f"Local model: {label}"))
        for model in installed_models():
            if model.name != spec:
                choices.append(ModelChoice(f"local:{model.name}", "local", model.name, f"本地模型：{model.label}",
                                           f"Local model: {model.label}"))
        for name, path in settings.local_models.items():
            choices.append(ModelChoice(f"local:{name}", "local", path, f"本地模型：{name}", f"Local model: {name}"))
    if settings.llm_model:
        choices.append(ModelChoice("openai", "openai", settings.llm_model, f"服务端模型：{settings.llm_model}",
                                   f"Hosted model: {settings.llm_model}"))
    return choices


def find_choice(settings: Settings, name: str | None) -> ModelChoice:
    """The choice a name stands for (None: the configured `llm`); BackendError for a name not on offer."""
    wanted = name or settings.llm
    for choice in model_choices(settings):
        # an answer names the default bundled model "local:NAME" (its `llm`): that name picks it too
        if choice.name == wanted or (choice.name == "local" and choice.spec in BUNDLED
                                     and wanted == f"local:{choice.spec}"):
            return choice
    if wanted == "openai":
        raise BackendError("no model name is set for the OpenAI-compatible endpoint: set ASSISTANT_LLM_MODEL")
    if wanted == "local" or wanted.startswith("local:"):
        raise BackendError("no local model is on offer here: install llama-cpp-python and a model (run `make`)")
    offered = ", ".join(c.name for c in model_choices(settings))
    raise BackendError(f"'{wanted}' is not one of the configured models ({offered})")


def local_model_path(spec: str, *, progress: bool = True) -> Path:
    """The GGUF file for a local model spec: a bundled model (assembled and verified once), a
    file, or a hub reference (downloaded by llama-cpp-python into its cache)."""
    if spec in BUNDLED or not spec:
        try:
            return assemble(spec or DEFAULT_MODEL, progress=progress)
        except ModelInstallError as err:
            raise BackendError(str(err)) from err
    if spec.startswith("hf:"):
        repo, _, filename = spec[3:].rpartition("/")
        if not repo or not filename:
            raise BackendError(f"hub model {spec!r} should read hf:OWNER/REPO/FILE.gguf")
        try:
            from huggingface_hub import hf_hub_download

            return Path(hf_hub_download(repo_id=repo, filename=filename))
        except Exception as err:  # no network, no such repository: say so
            raise BackendError(f"could not fetch {filename} from {repo} ({type(err).__name__}): "
                               "download it yourself and set ASSISTANT_LOCAL_MODEL to its path") from err
    path = Path(spec)
    if not path.is_file():
        raise BackendError(f"GGUF model {path} does not exist: check ASSISTANT_LOCAL_MODEL")
    return path


def make_chat_model(settings: Settings, choice: ModelChoice) -> tuple[BaseChatModel, str]:
    """(chat model, its name for the answer's `llm` field) for a local or openai choice."""
    if choice.backend == "local":
        try:
            from assistant.generation.llamacpp import LlamaCppChat
        except ModuleNotFoundError as err:
            raise BackendError("llama-cpp-python is not installed: run `make`") from err
        path = local_model_path(choice.spec)
        chat_format = BUNDLED[choice.spec].chat_format if choice.spec in BUNDLED else None
        local = LlamaCppChat(model_path=str(path), n_ctx=settings.llm_context, max_tokens=settings.llm_max_tokens,
                             temperature=settings.llm_temperature, n_threads=settings.llm_threads,
                             flash_attn=settings.llm_flash_attn, chat_format_hint=chat_format)
        return local, f"local:{choice.spec if choice.spec in BUNDLED else path.name}"
    if choice.backend == "openai":
        from langchain_openai import ChatOpenAI

        # langchain-openai sends `max_completion_tokens`; llama.cpp's server, older vLLM and others
        # only read `max_tokens`, so both are sent
        model = ChatOpenAI(model=choice.spec, base_url=settings.llm_base_url,
                           api_key=settings.llm_api_key or "not-needed",  # type: ignore[arg-type]
                           timeout=settings.llm_timeout, max_retries=0, temperature=settings.llm_temperature,
                           max_tokens=settings.llm_max_tokens,  # type: ignore[call-arg]
                           extra_body={"max_tokens": settings.llm_max_tokens})
        return model, f"openai:{choice.spec}"
    raise BackendError(f"'{choice.name}' needs no model")


def bundled_gguf(name: str = DEFAULT_MODEL) -> Path:
    """The verified GGUF file of a bundled model (assembled on first use)."""
    return local_model_path(name)
