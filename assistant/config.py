"""One `Settings` object: environment variables `ASSISTANT_*`, then `assistant.toml`, then defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

EmbedderKind = Literal["e5", "sentence-transformers", "openai"]
FaissKind = Literal["auto", "flat", "hnsw", "ivfpq"]


class Settings(BaseSettings):
    """Every knob in one place. Env var names are the field names upper-cased with `ASSISTANT_`."""

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="ignore", frozen=True)

    # where things live
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")

    # embeddings
    embedder: EmbedderKind = "e5"
    embedder_model: str = Field(
        default="",
        description="sentence-transformers model name or local path, or the OpenAI-compatible "
        "embedding model name",
    )
    embedder_base_url: str = "http://127.0.0.1:8000/v1"
    embedder_api_key: str = ""
    embedder_query_prefix: str | None = Field(
        default=None, description="text put before queries; None = the model family's convention")
    embedder_passage_prefix: str | None = Field(
        default=None, description="text put before passages; None = the model family's convention")
    embed_batch_size: int = 64
    e5_engine: Literal["auto", "torch", "c"] = Field(
        default="auto", description="bundled e5: PyTorch engine (faster) if torch loads, else the C engine")
    e5_precision: Literal["auto", "fp32", "bf16"] = Field(
        default="auto", description="PyTorch e5 engine: bf16 where the CPU has native bf16, else fp32")

    # chunking (characters; defaults suit Chinese reports)
    chunk_size: int = 400
    chunk_overlap: int = 100

    # index
    sentence_vectors: bool = Field(
        default=True, description="embed each sentence too, for the sentence-level reranker")
    vector_store: Literal["faiss", "qdrant"] = Field(
        default="faiss", description="where passage vectors are searched: embedded FAISS, or Qdrant")
    qdrant_url: str = Field(default="", description="Qdrant server/cluster URL; empty = embedded (in-process)")
    qdrant_api_key: str = ""
    qdrant_collection: str = Field(default="assistant", description="collection name prefix (one per index version)")
    index_wave_chunks: int = Field(
        default=512, ge=1, description="chunks embedded and saved together while indexing; an interrupted "
        "build redoes at most one wave")
    faiss_index: FaissKind = "auto"
    approximate_above: int = Field(
        default=200_000, description="auto: exact search up to this many passages, IVF-PQ above (docs/scaling.md)")
    # approximate indexes (docs/scaling.md); build-time ones take effect at the next rebuild
    hnsw_m: int = Field(default=48, ge=4, description="HNSW: graph links per passage (build time)")
    hnsw_ef_construction: int = Field(default=200, ge=8, description="HNSW: candidate list while building")
    hnsw_ef_search: int = Field(default=1024, ge=1, description="HNSW: candidate list while searching")
    ivf_lists: int = Field(default=0, ge=0, description="IVF-PQ: clusters (build time); 0 = √passages")
    ivf_nprobe: int = Field(default=64, ge=1, description="IVF-PQ: clusters searched per query")
    ivf_refine: int = Field(
        default=40, ge=0, description="IVF-PQ: fetch this many times k by compressed codes, then re-rank them "
        "exactly with the float vectors (memory-mapped from disk); 0 = no re-ranking")
    lexical_store: Literal["embedded", "qdrant"] = Field(
        default="embedded", description="where BM25 is searched: embedded (in-process sparse matrix), or Qdrant "
        "sparse vectors beside the passage vectors (needs vector_store = qdrant)")

    # retrieval
    top_k: int = 10
    candidates: int = 50
    rrf_k: int = 30
    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    named_report_weight: float = 1.0
    heading_weight: float = Field(default=0.5, description="weight in the fusion of the ranking by section headings")
    heading_min_share: float = Field(
        default=0.7, description="a section enters the heading ranking when its headings hold this share of the "
        "question's keyword weight")
    language_shift: float = 0.8
    crossed_query_weight: float = Field(
        default=0.0, description="weight, against the question's own, of the reranker's reading of the question with "
        "the glossary's names written in the reports' language, for a question in another language (0: off; better "
        "retrieval for English questions, but no better written answers: see the README)")
    english_view_weight: float = Field(
        default=0.0, description="weight in the fusion, for an English question, of the keyword ranking over the "
        "passages read in English (Chinese words as their dictionary glosses; 0: off; 1 with english_view_bonus "
        "0.03 ranks English questions' passages better, but the written answers did not follow: see the README)")
    english_view_bonus: float = Field(
        default=0.0, description="added in the rerank, for an English question, times a passage's keyword score "
        "over its English reading as a share of the most the question's terms could score (0: off)")
    reranker: Literal["maxsim", "cross-encoder", "none"] = "maxsim"
    reranker_model: str = "BAAI/bge-reranker-v2-m3"
    rerank_depth: int = 50
    fusion_weight: float = 0.02
    coverage_weight: float = 0.03
    named_report_bonus: float = 0.02
    apparatus_penalty: float = Field(
        default=0.05, description="subtracted from the final score of apparatus (bibliography, links, source "
        "notes, contents entries) unless the question asks about sources or authors")

    # answers
    llm: str = Field(default="auto", description="who answers: auto (the bundled local model when installed, else "
                     "quotes), extractive (quotes, no model), local, local:<name>, openai")
    local_model: str = Field(default="qwen2.5-1.5b", description="the local model: a bundled model's name "
                             "(qwen2.5-1.5b, qwen2.5-0.5b, gemma3-270m), a GGUF file, or hf:OWNER/REPO/FILE.gguf")
    llm_model_path: str = Field(default="", description="older name for local_model (a GGUF file); wins when set")
    local_models: dict[str, str] = Field(default_factory=dict, description="more local models readers may "
                                         "pick, by name: {name = GGUF path or bundled name}")
    llm_model: str = Field(default="", description="model name at the OpenAI-compatible endpoint")
    llm_base_url: str = "http://127.0.0.1:8080/v1"
    llm_api_key: str = ""
    llm_timeout: float = Field(default=60.0, description="seconds before a model is given up on")
    llm_max_tokens: int = 320
    llm_temperature: float = 0.1
    llm_context: int = 4096
    llm_threads: int = Field(default=0, description="llama.cpp threads; 0 = the physical cores")
    llm_flash_attn: bool = Field(default=False, description="llama.cpp's flash attention: prompts read about 7 percent "
                                 "faster on 2 cores, but the model's judgement moves (see README, Performance)")
    llm_max_loaded: int = Field(default=1, ge=1, description="local models kept loaded at once (each ~1-2 GB)")
    llm_render_question: bool = Field(
        default=False, description="a question in another language than most of the reports is rendered in theirs by "
        "the model, and the evidence sentences are chosen by how well they answer the rendering (one more model call)")
    llm_translate_quotes: bool = Field(
        default=True, description="when a model's own answer is unusable, have it translate the quotes that are in "
        "another language than the question (each translation checked against its source)")
    unchecked_translation_floor: float = Field(
        default=0.6, ge=0.0, le=1.0, description="a translated quote that fails its check but scores at least this "
        "share of the attribution bar, with no figure its source lacks and no yes where it says no, is shown marked ⚠ "
        "rather than left in the original language; 1 shows only checked translations")
    answer_passages: int = 5
    evidence_sentences: int = Field(default=6, description="sentences a model is given as evidence (at most)")
    evidence_chars: int = Field(default=450, description="characters of evidence a model is given (about)")
    evidence_margin: float = Field(default=0.08, description="evidence sentences scoring this close to the best")
    max_prompt_tokens: int = Field(
        default=600, ge=0,
        description="a local model's writing prompt is kept to this many tokens by leaving out the "
                    "lowest-scoring evidence sentences (0: no limit)")
    min_supported_share: float = Field(
        default=0.75, ge=0.0, le=1.0, description="a written answer fewer of whose sentences than this share the "
        "evidence supports is replaced by quotes (an answer none of whose sentences is supported always is)")
    unsupported_sentences: Literal["remove", "flag"] = Field(
        default="remove", description="a model's sentence no evidence supports: left out, or kept marked ⚠")
    answer_checks: Annotated[list[str], NoDecode] = Field(
        # = answerability.checks.DEFAULT_CHECKS
        default_factory=lambda: ["unit", "identifier", "figure", "title", "names", "quantity", "date", "duration"],
        description="the general answerability checks in force (comma-separated; see assistant/answerability; "
        "frequency is off by default)")
    answerability: Literal["auto", "model", "checks"] = Field(
        default="auto", description="who decides that the reports do not answer: the general checks plus the "
        "calibrated judgement of the evidence, with the model's when a model answers (auto), or the general "
        "checks alone")
    judge_find_value: bool = Field(default=True, description="with a model: a question asking for a figure or a "
                                   "date is refused when the model, asked to copy it out of the evidence, finds none")
    judge_below_zh: float | None = Field(default=None, description="refuse when the model's P(answerable) is "
                                         "below this; unset: the calibrated judgement (bundled models), else 0.5")
    judge_below_en: float | None = Field(default=None, description="the same for English questions")
    sentence_coverage_weight: float = 0.1
    sentence_rank_penalty: float = 0.005
    sentence_kind_weight: float = Field(
        default=0.0, description="added to an evidence sentence's score when it holds an answer of the asked kind "
        "(a figure for 'how many', a date for 'when'); 0 until it helps both dev halves")
    refusal_focus_terms: int = 8
    refuse_below_zh: float = 0.0
    refuse_below_en: float = 0.0
    caution_below_zh: float | None = Field(
        default=None, description="answers whose best passage scores below this carry a notice that the reports "
                                  "may not answer directly; unset: calibrated for the default embedder, else off")
    caution_below_en: float | None = Field(default=None, description="the same for English questions")
    max_history_turns: int = 20

    # chat page
    feedback_path: Path = Path("feedback/feedback.jsonl")

    # evaluation: the optional judge model (an OpenAI-compatible endpoint)
    judge_base_url: str = Field(default="", description="judge endpoint; empty = llm_base_url")
    judge_model: str = Field(default="", description="judge model name; judge metrics need it")
    judge_api_key: str = ""

    # HTTP API
    keys_file: Path = Field(default=Path("keys.json"), description="API key hashes (assistant keys …)")
    api_rate_per_minute: int = Field(default=120, description="requests per minute per key (0: no limit)")
    api_model_queue: int = Field(
        default=4, description="model answers admitted at once per worker (writing or waiting for the model); more "
        "get 503 with Retry-After at once (0: no limit)")
    api_keep_alive_seconds: int = Field(
        default=75, description="an idle kept-alive connection stays open this long; longer than clients pause "
        "between requests (a Retry-After) and than a proxy's idle timeout, so no request races the close")
    api_max_body_bytes: int = 64 * 1024
    api_max_upload_bytes: int = 20 * 1024 * 1024
    api_cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="origins allowed to call the API from a browser (comma-separated)")
    log_questions: bool = Field(default=False, description="write question text into the access log")

    @field_validator("api_cors_origins", "answer_checks", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @model_validator(mode="after")
    def _lexical_needs_qdrant(self) -> Settings:
        if self.lexical_store == "qdrant" and self.vector_store != "qdrant":
            raise ValueError("lexical_store = 'qdrant' keeps BM25 beside the passage vectors in Qdrant: "
                             "set vector_store = 'qdrant' too, or lexical_store = 'embedded'")
        return self

    # input limits
    max_question_chars: int = 2000


_CONFIG_FILE_ENV = "ASSISTANT_CONFIG"


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Build settings from env vars, an optional TOML file and explicit overrides (highest).

    The TOML file is `config_file`, else `$ASSISTANT_CONFIG`, else `./assistant.toml` if present.
    """
    path = Path(config_file) if config_file else None
    if path is None and os.environ.get(_CONFIG_FILE_ENV):
        path = Path(os.environ[_CONFIG_FILE_ENV])
    if path is None and Path("assistant.toml").is_file():
        path = Path("assistant.toml")
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist: check the path")

    class _FromToml(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
            if path is not None:
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
            return tuple(sources)

    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**_FromToml(**clean).model_dump())
