"""`Assistant`: the one object every surface (CLI, chat page, HTTP API, evaluation) calls.

    question (+ history) ─condense─▶ retrieve ─answerable?─▶ generate (model or extractive)
        ─▶ resolve citations, check support ─▶ Answer

A model that fails, is too slow or returns something unusable is replaced by the extractive
answer with a one-line notice; the caller never sees a stack trace for it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from assistant.answerability import AnswerabilityJudge, caution_thresholds
from assistant.citations import ResolvedText, SupportChecker, answer_language_text, resolve
from assistant.config import Settings, load_settings
from assistant.conversation import Turn, normalise_history, rule_condense
from assistant.embeddings import Embedder, make_embedder
from assistant.generation import NOT_FOUND, BackendError, ExtractiveAnswerer, PromptLibrary, make_chat_model
from assistant.index import BuildReport, DocumentSummary, SearchIndex, build_index, ensure_index
from assistant.language import detect_lang
from assistant.retrieval import HybridRetriever, Reranker, RetrievalResult, make_reranker, validate_question
from assistant.retrieval.outline import LIST_NOUNS, Outline
from assistant.types import Answer, Lang, Passage

log = logging.getLogger(__name__)

_MODEL_REFUSAL = re.compile(
    r"reports? do(?:es)? not say|not (?:found|contained|mentioned) in the (?:reports|sources)|"
    r"sources do not (?:contain|say)|报告中没有相关内容|资料中没有|报告中没有|未提及|没有相关信息", re.I)


@dataclass(frozen=True)
class StreamEvent:
    """What `Assistant.stream` yields: answer text as it is produced ("token"), a replacement of
    everything shown so far ("replace", when a failed model's partial answer gives way to the
    extractive one), and finally the complete answer ("answer")."""

    kind: Literal["token", "replace", "answer"]
    text: str = ""
    answer: Answer | None = None


class GenerationFailed(Exception):
    """The model produced no usable answer; the message is the one-line reason."""


def model_output_problem(text: str, lang: Lang) -> str | None:
    """Why a model's answer cannot be shown, or None if it can."""
    stripped = text.strip()
    if not stripped:
        return "it returned an empty answer"
    if _MODEL_REFUSAL.search(stripped) and len(stripped) < 200:
        return None
    lines = [line.strip() for line in stripped.splitlines() if line.strip()]
    if len(lines) >= 3 and len(set(lines)) <= len(lines) // 2:
        return "it repeated itself"
    if not re.search(r"[\[【［]\s*\d", stripped):
        return "its answer cites no source"
    own = answer_language_text(stripped)
    if re.search(r"\w", own) and detect_lang(own, default=lang) != lang:
        return "it answered in the wrong language"
    return None


class Assistant:
    """Loads the embedder, the index and (lazily) the answer model once, then answers from any thread."""

    def __init__(self, settings: Settings | None = None, *, embedder: Embedder | None = None,
                 progress: bool = True) -> None:
        self.settings = settings or load_settings()
        self.embedder = embedder or make_embedder(self.settings)
        self._progress = progress
        self._lock = threading.Lock()
        self.reranker: Reranker | None = make_reranker(self.settings)
        self._index = ensure_index(self.settings, self.embedder, progress=progress)
        self._retriever = HybridRetriever(self._index, self.embedder, self.settings, self.reranker)
        self.prompts = PromptLibrary()
        self.extractive = ExtractiveAnswerer()
        caution = caution_thresholds(self.embedder.id, self.settings.reranker, self.settings.caution_below_zh,
                                     self.settings.caution_below_en)
        self.judge = AnswerabilityJudge({"zh": self.settings.refuse_below_zh, "en": self.settings.refuse_below_en},
                                        caution)
        log.debug("refusal thresholds %s, weak-evidence notice below %s", self.judge.min_score, caution)
        self._models: dict[str, tuple[Any, str]] = {}
        self._models_lock = threading.Lock()
        self._warm_up()

    def _warm_up(self) -> None:
        """Pay first-call costs (tokenizer dictionary, model buffers) now, not in a user's request."""
        from assistant.lexical import tokenize

        tokenize("人工智能 warm-up")
        self.embedder.embed_queries(["warm-up"])
        self._retriever.warm_up()

    def warm_up(self) -> None:
        """For long-running services: load everything a first Chinese and a first English question
        would (word lists, dictionaries both ways), so no user's request pays for it."""
        for question in ("人工智能治理的原则是什么？", "What are the principles of AI governance?"):
            self._retriever.retrieve(question, 1)

    # --- index --------------------------------------------------------------------------------

    @property
    def index(self) -> SearchIndex:
        return self._index

    @property
    def retriever(self) -> HybridRetriever:
        return self._retriever

    def documents(self) -> list[DocumentSummary]:
        return list(self._index.documents.values())

    def rebuild(self, *, full: bool = False) -> BuildReport:
        """Bring the index up to date with the corpus, then switch to the new version.

        Requests running meanwhile keep using the version they started with."""
        report = build_index(self.settings, self.embedder, rebuild=full, progress=self._progress)
        self.reload()
        return report

    def reload(self) -> None:
        """Switch to the live index version if it changed."""
        fresh = SearchIndex.open(self.settings.index_dir, self.settings)
        if fresh.folder == self._index.folder:
            fresh.close()
            return
        retriever = HybridRetriever(fresh, self.embedder, self.settings, self.reranker)
        retriever.warm_up()  # ready before requests see it
        with self._lock:
            self._index = fresh
            self._retriever = retriever
        log.info("switched to index version %s", fresh.folder.name)

    # --- retrieval ----------------------------------------------------------------------------

    def retrieve(self, question: str, k: int | None = None, doc_ids: Iterable[str] | None = None,
                 neighbours: int = 0) -> RetrievalResult:
        return self._retriever.retrieve(question, k, doc_ids, neighbours)

    def retrieve_many(self, questions: Sequence[str], k: int | None = None,
                      doc_ids: Iterable[str] | None = None, neighbours: int = 0) -> list[RetrievalResult]:
        return self._retriever.retrieve_many(questions, k, doc_ids, neighbours)

    # --- answers ------------------------------------------------------------------------------

    def model(self, backend: str, name: str | None = None) -> tuple[Any, str]:
        """The chat model for a backend ("local" or "openai"), created once; `name` overrides the
        configured model (a GGUF path for local, a model name for openai)."""
        key = f"{backend}|{name or ''}"
        with self._models_lock:
            if key not in self._models:
                update: dict[str, Any] = {"llm": backend}
                if name:
                    update["llm_model_path" if backend == "local" else "llm_model"] = name
                self._models[key] = make_chat_model(self.settings.model_copy(update=update))
            return self._models[key]

    def ask(self, question: str, history: Iterable[object] = (), *, llm: str | None = None,
            llm_model: str | None = None, doc_ids: Iterable[str] | None = None, k: int | None = None) -> Answer:
        answer = None
        for event in self.stream(question, history, llm=llm, llm_model=llm_model, doc_ids=doc_ids, k=k):
            if event.answer is not None:
                answer = event.answer
        assert answer is not None
        return answer

    def stream(self, question: str, history: Iterable[object] = (), *, llm: str | None = None,
               llm_model: str | None = None, doc_ids: Iterable[str] | None = None, k: int | None = None,
               should_stop: Callable[[], bool] | None = None) -> Iterator[StreamEvent]:
        """Answer text as it is produced, then the answer. `should_stop` lets a caller whose
        client went away stop the model early."""
        started = time.perf_counter()
        text = validate_question(question, self.settings.max_question_chars)
        turns = normalise_history(history, self.settings.max_history_turns)
        backend = llm or self.settings.llm
        lang = detect_lang(text)
        notices: list[str] = []
        timings: dict[str, float] = {}

        standalone = self._condense(text, turns, backend, llm_model)
        timings["condense"] = _ms(started)
        retrieval_started = time.perf_counter()
        expansion = self._rewrite(standalone, lang, backend, llm_model) if backend != "extractive" else ""
        retrieval = self._retriever.retrieve(standalone, k or self.settings.answer_passages, doc_ids,
                                             expansion=expansion)
        passages = retrieval.passages
        timings["retrieve"] = _ms(retrieval_started)

        focus = (self._retriever.focus_terms(retrieval.query, self.settings.refusal_focus_terms)
                 if retrieval.query else [])
        verdict = self.judge.judge(standalone, lang, passages, focus)
        outline = self._retriever.outline(retrieval)  # a report's own list answers a list question
        if not verdict.answerable and outline is None:
            log.info("refusing without a model: %s", verdict.reason)
            message = NOT_FOUND[lang]
            notices += [why for why in (verdict.explanation(lang),) if why]
            yield StreamEvent("token", message)
            timings["total"] = _ms(started)
            yield StreamEvent("answer", answer=Answer(
                question=text, lang=lang, answer=message, refused=True, citations=(), llm="extractive",
                timings_ms=timings, notices=tuple(notices), nearest=tuple(passages[:3]),
                standalone_question=standalone if standalone != text else "", passages=tuple(passages)))
            return
        if verdict.weak:
            log.info("weak evidence: %s", verdict.reason)
            notices.append(WEAK_EVIDENCE[lang])

        generation_started = time.perf_counter()
        raw, answered_by, first_token = "", "extractive", None
        if backend != "extractive":
            streamed: list[str] = []
            try:
                for token in self._generate(backend, llm_model, standalone, lang, passages, should_stop):
                    if first_token is None:
                        first_token = _ms(generation_started)
                    streamed.append(token)
                    yield StreamEvent("token", token)
                raw = "".join(streamed)
                problem = model_output_problem(raw, lang)
                if problem:
                    raise GenerationFailed(problem)
                answered_by = self.model(backend, llm_model)[1]
            except Exception as err:  # any model failure: fall back, never surface a traceback
                reason = str(err) if isinstance(err, (GenerationFailed, BackendError)) else _describe(err)
                notices.append(_fallback_notice(lang, backend, reason))
                log.warning("%s model failed (%s); answering extractively", backend, reason)
                raw = ""
                if streamed:
                    yield StreamEvent("replace", "")
        resolved: ResolvedText | None = None
        if not raw:
            raw, passages = self._extractive(retrieval, outline)
            resolved = resolve(raw, passages)  # streamed with the numbers the final answer has
            if first_token is None:
                first_token = _ms(generation_started)
            for line in resolved.text.splitlines(keepends=True):  # line by line, as a model would stream
                yield StreamEvent("token", line)
        timings["first_token"] = round(first_token or 0.0, 2)
        timings["generate"] = _ms(generation_started)

        yield StreamEvent("answer", answer=self._finish(text, lang, raw, passages, answered_by, notices,
                                                        timings, started, standalone, verdict.weak, resolved))

    def _finish(self, question: str, lang: Lang, raw: str, passages: list[Passage], llm: str,
                notices: list[str], timings: dict[str, float], started: float, standalone: str,
                weak: bool = False, resolved: ResolvedText | None = None) -> Answer:
        if answered_model_refusal(raw) and not re.search(r"\[\d", raw):
            timings["total"] = _ms(started)
            return Answer(question=question, lang=lang, answer=raw.strip(), refused=True, citations=(), llm=llm,
                          timings_ms=timings, notices=tuple(notices), nearest=tuple(passages[:3]),
                          standalone_question=standalone if standalone != question else "",
                          passages=tuple(passages))
        resolved = resolved or resolve(raw, passages)
        if resolved.dropped:
            notices.append(_dropped_notice(lang, resolved.dropped))
        checks, share = self._support_checker(passages).check(resolved.text, resolved.citations)
        unsupported = [c for c in checks if c.citations and not c.supported]
        if unsupported:
            notices.append(_unsupported_notice(lang, len(unsupported)))
        timings["total"] = _ms(started)
        return Answer(question=question, lang=lang, answer=resolved.text, refused=False,
                      citations=resolved.citations, llm=llm, timings_ms=timings, notices=tuple(notices),
                      sentences=tuple(checks), supported_share=share, weak_evidence=weak,
                      standalone_question=standalone if standalone != question else "", passages=tuple(passages))

    # --- steps --------------------------------------------------------------------------------

    def _condense(self, question: str, turns: Sequence[Turn], backend: str, name: str | None) -> str:
        if not turns:
            return question
        if backend != "extractive":
            try:
                model, _ = self.model(backend, name)
                messages = self.prompts.condense(question, detect_lang(question), turns[-6:])
                rewritten = str(model.invoke(messages, max_tokens=96).content).strip().splitlines()
                candidate = rewritten[0].strip().strip('"“”') if rewritten else ""
                if 2 <= len(candidate) <= 4 * len(question) + 200:
                    return candidate
            except Exception as err:  # the rule below still works without the model
                log.warning("condensing with the model failed (%s); using the rule", _describe(err))
        return rule_condense(question, turns)

    def _rewrite(self, question: str, lang: Lang, backend: str, name: str | None) -> str:
        """Search terms in the other language from the model (a further expansion; optional)."""
        if not self.settings.llm_query_rewrite:
            return ""
        try:
            model, _ = self.model(backend, name)
            out = str(model.invoke(self.prompts.rewrite(question, lang), max_tokens=48).content)
            return " ".join(out.split())[:200]
        except Exception as err:
            log.info("query rewriting skipped (%s)", _describe(err))
            return ""

    def _generate(self, backend: str, name: str | None, question: str, lang: Lang, passages: list[Passage],
                  should_stop: Callable[[], bool] | None) -> Iterator[str]:
        model, _ = self.model(backend, name)
        deadline = time.monotonic() + self.settings.llm_timeout
        stream = model.stream(self.prompts.answer(question, lang, passages))
        try:
            for chunk in stream:
                if should_stop is not None and should_stop():
                    raise GenerationFailed("the client went away")
                if time.monotonic() > deadline:
                    raise GenerationFailed(f"it took longer than {self.settings.llm_timeout:.0f} s")
                token = chunk.content if isinstance(chunk.content, str) else ""
                if token:
                    yield token
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()  # stops a local generation mid-way

    def _extractive(self, retrieval: RetrievalResult,
                    outline: tuple[Outline, list[Passage]] | None = None) -> tuple[str, list[Passage]]:
        """The extractive answer and the passages it cites: the retrieved ones, then those of the
        outline's headings that are not among them."""
        sentences = self._retriever.score_sentences(retrieval, self.settings.answer_passages)
        text = self.extractive.answer(retrieval.question, retrieval.lang, sentences)
        passages = list(retrieval.passages)
        if outline is None:
            return text, passages
        found, extra = outline
        numbers = []
        for passage in extra:
            known = next((i for i, p in enumerate(passages) if p.chunk_id == passage.chunk_id), None)
            if known is None:
                passages.append(replace(passage, rank=len(passages) + 1))
                known = len(passages) - 1
            numbers.append(known + 1)
        noun = found.noun if retrieval.lang == "zh" else f"{LIST_NOUNS[found.noun][0]}s"
        listing = self.extractive.outline(retrieval.lang, extra[0].title, noun,
                                          [(h.title, n) for h, n in zip(found.entries, numbers, strict=True)])
        return f"{listing}\n{text}", passages

    def _support_checker(self, passages: Sequence[Passage]) -> SupportChecker:
        stored = self._index.store.chunks_by_id([p.chunk_id for p in passages])
        analyzer = self._retriever.analyzer

        def tokens(passage: Passage) -> set[str]:
            chunk = stored.get(passage.chunk_id)
            return set(chunk.tokens) if chunk else set()

        def vectors(passage: Passage) -> np.ndarray:
            chunk = stored.get(passage.chunk_id)
            return chunk.sentence_vectors if chunk is not None else np.zeros((0, 1), dtype=np.float32)

        return SupportChecker(lambda s: analyzer.analyze(s).terms, tokens, self.embedder.embed_passages, vectors)


def answered_model_refusal(text: str) -> bool:
    return bool(_MODEL_REFUSAL.search(text)) and len(text.strip()) < 200


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


def _describe(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    kind = type(err).__name__
    if "timeout" in kind.lower() or "timed out" in text.lower():
        return "it did not answer in time"
    if "connect" in kind.lower() or "connection" in text.lower():
        return "it could not be reached"
    return f"{kind}: {text[:160]}" if text else kind


WEAK_EVIDENCE: dict[Lang, str] = {
    "zh": "报告中可能没有直接回答这个问题的内容，请对照下面引用的原文核实。",
    "en": "The reports may not answer this directly: check the answer against the quoted passages.",
}


def _fallback_notice(lang: Lang, backend: str, reason: str) -> str:
    if lang == "zh":
        return f"模型（{backend}）未能给出可用的回答（{reason}），以下是从报告中直接摘录的答案。"
    return f"The {backend} model gave no usable answer ({reason}); showing the extractive answer instead."


def _dropped_notice(lang: Lang, numbers: Sequence[int]) -> str:
    listed = ", ".join(f"[{n}]" for n in numbers)
    if lang == "zh":
        return f"回答中的引用 {listed} 不对应任何段落，已删除。"
    return f"Citation(s) {listed} pointed to no passage and were removed."


def _unsupported_notice(lang: Lang, count: int) -> str:
    if lang == "zh":
        return f"有 {count} 句话的内容在其引用的段落中找不到依据，请核对原文。"
    return f"{count} sentence(s) are not supported by the passage they cite; check the sources."


__all__ = ["Assistant", "GenerationFailed", "StreamEvent", "model_output_problem"]
