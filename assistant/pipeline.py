"""`Assistant`: the one object every surface (CLI, chat page, HTTP API, evaluation) calls.

    question (+ history) ─condense─▶ understand once (Query) ─retrieve─▶ passages
        ─select─▶ Evidence ─answerable? (checks; the model's judgement)─▶ Answerer writes or quotes
        ─cite (the system attributes every sentence)─▶ Answer

A model that cannot be set up, fails, is too slow, or writes something unusable (empty,
repetitive, in the wrong language, more than a quarter of it unsupported by the evidence) is
replaced by quotes from the evidence, with a one-line notice; the caller never sees a stack trace for it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from assistant.answerability import (
    AnswerabilityJudge,
    Verdict,
    calibration_key,
    caution_thresholds,
    judge_calibration,
)
from assistant.citations import Attribution, Attributor, answer_language_text
from assistant.config import Settings, load_settings
from assistant.conversation import Turn, normalise_history, rule_condense
from assistant.embeddings import Embedder, make_embedder
from assistant.evidence import EvidenceSelector
from assistant.generation import (
    Answerer,
    BackendError,
    ExtractiveAnswerer,
    GenerationFailed,
    ModelAnswerer,
    PromptLibrary,
    find_choice,
    make_chat_model,
)
from assistant.index import BuildReport, DocumentSummary, SearchIndex, build_index, ensure_index
from assistant.language import detect_lang
from assistant.messages import Worded, message
from assistant.retrieval import HybridRetriever, Reranker, RetrievalResult, make_reranker, validate_question
from assistant.types import Answer, Evidence, Lang, Notice, Query, Translation

log = logging.getLogger(__name__)

_MODEL_REFUSAL = re.compile(
    r"reports? do(?:es)? not (?:say|state|mention|specify|give|provide)|(?:evidence|sources?|passages?) "
    r"do(?:es)? not (?:say|state|mention|specify|give|provide|contain)|not (?:found|contained|mentioned|stated|"
    r"specified|given) in the (?:reports|evidence|sources)|no information (?:is given )?(?:about|on)"
    r"|报告中没有|证据中没有|资料中没有|未提及|没有提及|没有相关(?:信息|内容)|未说明|没有说明|没有给出", re.I)


@dataclass(frozen=True)
class Asked:
    """A question and its conversation, validated once (`Assistant.prepare`)."""

    text: str
    turns: tuple[Turn, ...] = ()


@dataclass(frozen=True)
class StreamEvent:
    """What `Assistant.stream` yields: the evidence as soon as it is chosen ("evidence"), answer
    text as it is produced ("token"), a replacement of everything shown so far ("replace": a
    model's unusable answer gives way to quotes), and finally the complete answer ("answer")."""

    kind: Literal["evidence", "token", "replace", "answer"]
    text: str = ""
    answer: Answer | None = None
    evidence: Evidence | None = None


_MIN_SUPPORTED: float = Settings.model_fields["min_supported_share"].default


def answer_problem(attribution: Attribution, lang: Lang, min_supported: float = _MIN_SUPPORTED) -> str | None:
    """Why a written answer cannot be shown (then quotes replace it): a `problem_…` message key, or
    None. `min_supported`: the share of its sentences that must be supported (the setting's default)."""
    if not re.search(r"\w", attribution.text) and not any(re.search(r"\w", c.text) for c in attribution.sentences):
        return "problem_empty"
    if attribution.content and attribution.unsupported == attribution.content:
        return "problem_unsupported"
    text = attribution.text.strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) >= 3 and len(set(lines)) <= len(lines) // 2:
        return "problem_repeated"
    words = re.findall(r"\w+", text.lower())
    if len(words) >= 24 and len(set(words)) < len(words) / 4:
        return "problem_repeated"
    own = answer_language_text(text)
    if re.search(r"\w", own) and detect_lang(own, default=lang) != lang:
        return "problem_language"
    if attribution.content and attribution.content - attribution.unsupported < attribution.content * min_supported:
        return "problem_partly_unsupported"
    if not attribution.citations:
        return "problem_uncited"
    return None


def model_declined(text: str) -> bool:
    """A written answer that says the evidence does not hold the answer."""
    return bool(_MODEL_REFUSAL.search(text)) and len(text.strip()) < 240


class Assistant:
    """Loads the embedder, the index and (lazily) the answer models once, then answers from any thread."""

    def __init__(self, settings: Settings | None = None, *, embedder: Embedder | None = None,
                 progress: bool = True) -> None:
        self.settings = settings or load_settings()
        self.embedder = embedder or make_embedder(self.settings)
        self._progress = progress
        self._lock = threading.Lock()
        self.reranker: Reranker | None = make_reranker(self.settings)
        self._index = ensure_index(self.settings, self.embedder, progress=progress)
        self._retriever = HybridRetriever(self._index, self.embedder, self.settings, self.reranker)
        self._evidence = EvidenceSelector(self._retriever, self.settings)
        self.prompts = PromptLibrary()
        self.extractive = ExtractiveAnswerer()
        caution = caution_thresholds(self.embedder.id, self.settings.reranker, self.settings.caution_below_zh,
                                     self.settings.caution_below_en)
        self.answerability = AnswerabilityJudge.default(
            caution, {"zh": self.settings.refuse_below_zh, "en": self.settings.refuse_below_en},
            self.settings.answer_checks)
        self._answerers: OrderedDict[str, Answerer] = OrderedDict()
        self._answerers_lock = threading.Lock()
        self._warm_up()

    def _warm_up(self) -> None:
        """Pay first-call costs (tokenizer dictionary, model buffers) now, not in a user's request."""
        from assistant.lexical import person_names, tokenize

        tokenize("人工智能 warm-up")
        person_names("人工智能")  # the tagger's word list
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

    @property
    def evidence(self) -> EvidenceSelector:
        return self._evidence

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
        evidence = EvidenceSelector(retriever, self.settings)
        with self._lock:
            self._index = fresh
            self._retriever = retriever
            self._evidence = evidence
        log.info("switched to index version %s", fresh.folder.name)

    # --- retrieval ----------------------------------------------------------------------------

    def retrieve(self, question: str, k: int | None = None, doc_ids: Iterable[str] | None = None,
                 neighbours: int = 0) -> RetrievalResult:
        return self._retriever.retrieve(question, k, doc_ids, neighbours)

    def retrieve_many(self, questions: Sequence[str], k: int | None = None,
                      doc_ids: Iterable[str] | None = None, neighbours: int = 0) -> list[RetrievalResult]:
        return self._retriever.retrieve_many(questions, k, doc_ids, neighbours)

    # --- answerers ----------------------------------------------------------------------------

    def answerer(self, name: str | None = None) -> Answerer:
        """The answerer a configured name stands for ("auto", "extractive", "local", "local:NAME",
        "openai"; None: the setting), created once; at most `llm_max_loaded` local models stay
        loaded. BackendError when the name is not on offer or the model cannot be set up."""
        choice = find_choice(self.settings, name)
        if choice.backend == "extractive":
            return self.extractive
        key = f"{choice.backend}|{choice.spec}"
        with self._answerers_lock:
            if key in self._answerers:
                self._answerers.move_to_end(key)
                return self._answerers[key]
            chat, label = make_chat_model(self.settings, choice)
            answerer = ModelAnswerer(chat, label, self.prompts, self.attributor, self._names,
                                     self.settings.llm_timeout, self.settings.unsupported_sentences == "remove",
                                     self.settings.unchecked_translation_floor, self.settings.max_prompt_tokens)
            self._answerers[key] = answerer
            local = [k for k in self._answerers if k.startswith("local|")]
            while len(local) > self.settings.llm_max_loaded:
                dropped = local.pop(0)
                del self._answerers[dropped]
                log.info("unloaded %s (llm_max_loaded = %d)", dropped, self.settings.llm_max_loaded)
            return answerer

    def attributor(self) -> Attributor:
        """Attribution of written sentences to this index's evidence (both languages)."""
        def towards(vector: np.ndarray, source: Lang, target: Lang) -> np.ndarray:
            return self._evidence.scorer.question_vector_for(vector, source, target)

        return Attributor(self._retriever.glossary, self._evidence.rarity, self.embedder.embed_passages, towards)

    def _names(self, evidence: Evidence) -> list[tuple[str, str]]:
        """(English, Chinese) glossary names of what the evidence sentences mention."""
        glossary = self._retriever.glossary
        text = " ".join(s.text for s in evidence.numbered)
        return list(dict.fromkeys((term.en[0], term.zh[0]) for _, term in glossary.match_zh(text)
                                  if term.en and term.zh and len(term.zh[0]) >= 2))

    # --- answers ------------------------------------------------------------------------------

    def prepare(self, question: str, history: Iterable[object] = ()) -> Asked:
        """The question and history checked once: QuestionError or HistoryError says what is wrong."""
        text = validate_question(question, self.settings.max_question_chars)
        return Asked(text, tuple(normalise_history(history, self.settings.max_history_turns)))

    def ask(self, question: str | Asked, history: Iterable[object] = (), *, llm: str | None = None,
            doc_ids: Iterable[str] | None = None, k: int | None = None) -> Answer:
        answer = None
        for event in self.stream(question, history, llm=llm, doc_ids=doc_ids, k=k):
            if event.answer is not None:
                answer = event.answer
        assert answer is not None
        return answer

    def understand(self, question: str, lang: Lang) -> Query:
        return self._retriever.analyzer.analyze(question, lang=lang)

    def stream(self, question: str | Asked, history: Iterable[object] = (), *, llm: str | None = None,
               doc_ids: Iterable[str] | None = None, k: int | None = None,
               should_stop: Callable[[], bool] | None = None) -> Iterator[StreamEvent]:
        """The evidence, then answer text as it is produced, then the answer. `should_stop` lets a
        caller whose client went away stop the model early."""
        started = time.perf_counter()
        asked = question if isinstance(question, Asked) else self.prepare(question, history)
        text, turns = asked.text, list(asked.turns)
        lang = detect_lang(text)
        notices: list[Notice] = []
        timings: dict[str, float] = {}
        try:
            answerer = self.answerer(llm)
        except BackendError as err:  # a model that cannot be set up: quotes, and say why
            log.warning("answer model unavailable (%s); quoting the reports", err)
            notices.append(("model_failed", {"backend": llm or self.settings.llm, "reason": str(err)}))
            answerer = self.extractive

        standalone = self._condense(text, lang, turns, answerer)
        timings["condense"] = _ms(started)
        step = time.perf_counter()
        query = self.understand(standalone, lang)
        retrieval = self._retriever.retrieve_queries([query], k or self.settings.answer_passages, doc_ids)[0]
        timings["retrieve"] = _ms(step)
        rendering = self._render(query, answerer, timings)
        step = time.perf_counter()
        evidence = self._fit(answerer, self._evidence.select(retrieval, rendering))
        timings["evidence"] = _ms(step)
        yield StreamEvent("evidence", evidence=evidence)

        step = time.perf_counter()
        verdict = self._judge(evidence, answerer)
        timings["judge"] = _ms(step)
        if not verdict.answerable:
            log.info("refusing: %s", verdict.reason)
            yield from self._refuse(text, lang, evidence, answerer.name, verdict, notices, timings, started,
                                    standalone)
            return
        if verdict.weak:
            notices.append(("weak_evidence", {}))

        step = time.perf_counter()
        first_token: float | None = None
        streamed: list[str] = []
        attribution: Attribution | None = None
        used = answerer
        try:
            for token in answerer.stream(evidence, should_stop):
                if first_token is None:  # from the question's arrival: what a reader waits
                    first_token = _ms(started)
                streamed.append(token)
                yield StreamEvent("token", token)
            draft = "".join(streamed)
            if answerer.writes and model_declined(draft):
                timings["generate"] = _ms(step)
                declined = Verdict(False, "the model wrote that the evidence does not say", missing="model")
                yield from self._refuse(text, lang, evidence, answerer.name, declined, notices, timings, started,
                                        standalone, said=draft)
                return
            attribution = answerer.cite(draft, evidence)
            problem = answer_problem(attribution, lang, self.settings.min_supported_share) if answerer.writes else None
            if problem:
                raise GenerationFailed(problem)
        except Exception as err:  # any model failure: quotes instead, never a traceback
            if not answerer.writes:
                raise
            key = err.key if isinstance(err, GenerationFailed) else ""
            reason: str | Worded = Worded(key) if key else str(err) if isinstance(err, BackendError) else _describe(err)
            stopped = should_stop is not None and should_stop()
            log.warning("%s failed (%s); quoting the reports", answerer.name, message(key, "en") if key else reason)
            used = self.extractive
            if streamed:
                yield StreamEvent("replace", "")
            translate = self.settings.llm_translate_quotes and not stopped and key != "problem_timeout"
            translations = self._translate(evidence, answerer) if translate else {}
            notices.append(("model_stopped", {}) if stopped else
                           ("model_failed_translated" if translations else "model_failed",
                            {"backend": answerer.name, "reason": reason}))
            attribution = self.extractive.quotes(evidence, translations, answerer.name)
            unchecked = sum(not t.checked for t in translations.values())
            if unchecked:
                notices.append(("translations_unchecked", {"count": unchecked}))
            for line in attribution.text.splitlines(keepends=True):
                yield StreamEvent("token", line)
            first_token = first_token if first_token is not None else _ms(started)
        timings["first_token"] = round(first_token or 0.0, 2)
        timings["generate"] = _ms(step)
        if attribution.removed:
            notices.append(("sentences_removed", {"count": attribution.removed}))
        elif attribution.unsupported:
            notices.append(("sentences_unsupported", {"count": attribution.unsupported}))
        timings["total"] = _ms(started)
        yield StreamEvent("answer", answer=_answer(
            text, lang, evidence, used.name, attribution, notices, timings, standalone, verdict))

    def _refuse(self, question: str, lang: Lang, evidence: Evidence, llm: str, verdict: Verdict,
                notices: list[Notice], timings: dict[str, float], started: float, standalone: str,
                said: str = "") -> Iterator[StreamEvent]:
        reply = message("not_found", lang)
        if verdict.missing:
            notices = [*notices, (f"why_{verdict.missing}", {"detail": verdict.detail})]
        if said:
            yield StreamEvent("replace", "")
        yield StreamEvent("token", reply)
        timings["total"] = _ms(started)
        refusal = Attribution(reply, (), (), 0, 0, 0, 0, 0)
        yield StreamEvent("answer", answer=_answer(question, lang, evidence, llm, refusal, notices, timings,
                                                   standalone, verdict))

    def _judge(self, evidence: Evidence, answerer: Answerer) -> Verdict:
        verdict = self.answerability.check(evidence)
        if not verdict.answerable or evidence.outline or self.settings.answerability == "checks":
            return verdict
        try:
            probability = answerer.judge(evidence)
        except Exception as err:  # the checks' verdict stands
            log.warning("the model could not judge answerability (%s)", _describe(err))
            return verdict
        key = calibration_key(answerer.name, self.embedder.id, self.settings.reranker)
        fixed = self.settings.judge_below_zh if evidence.query.lang == "zh" else self.settings.judge_below_en
        verdict = self.answerability.with_judgement(verdict, probability, evidence, judge_calibration(key), fixed)
        if not verdict.answerable or not self.settings.judge_find_value:
            return verdict
        try:
            found = answerer.finds_value(evidence)
        except Exception as err:  # the verdict so far stands
            log.warning("the model could not look for the asked value (%s)", _describe(err))
            return verdict
        return self.answerability.with_found_value(verdict, found, evidence)

    def _translate(self, evidence: Evidence, answerer: Answerer) -> dict[int, Translation]:
        """The model's translations of the quotes in another language than the question's ({} when
        there are none, or the model cannot translate)."""
        try:
            return answerer.translate(evidence)
        except Exception as err:  # the quotes stay in the original
            log.warning("translating the quotes failed (%s)", _describe(err))
            return {}

    @staticmethod
    def _fit(answerer: Answerer, evidence: Evidence) -> Evidence:
        """The evidence fitted to the model's prompt; as chosen when the model cannot count it (a
        model that fails to load is then reported where it is asked to judge or write)."""
        try:
            return answerer.fit(evidence)
        except Exception as err:
            log.warning("the model could not count its prompt (%s); the evidence stays as chosen", _describe(err))
            return evidence

    def _render(self, query: Query, answerer: Answerer, timings: dict[str, float]) -> Query | None:
        """With `llm_render_question` and a model: a question in another language than most of the
        reports, as the model renders it in theirs (the evidence sentences are chosen by it)."""
        target = self._retriever.main_language()
        if not (self.settings.llm_render_question and answerer.writes and query.lang != target):
            return None
        step = time.perf_counter()
        try:
            rendered = answerer.render(query.text, query.lang)
        except Exception as err:  # the question's own scoring still chooses
            log.warning("rendering the question failed (%s); choosing the evidence by the question", err)
            rendered = None
        timings["render"] = _ms(step)
        if not rendered:
            return None
        log.info("evidence chosen by the rendering: %s", rendered)
        return self.understand(rendered, target)

    def _condense(self, question: str, lang: Lang, turns: Sequence[Turn], answerer: Answerer) -> str:
        if not turns:
            return question
        try:
            condensed = answerer.condense(question, lang, turns)
            if condensed:
                return condensed
        except Exception as err:  # the rule below still works without the model
            log.warning("condensing with the model failed (%s); using the rule", _describe(err))
        return rule_condense(question, turns, lang, self._retriever.glossary)


def _worded(notices: Sequence[Notice], lang: Lang) -> tuple[str, ...]:
    return tuple(message(key, lang, **params) for key, params in notices)


def _answer(question: str, lang: Lang, evidence: Evidence, llm: str, attribution: Attribution,
            notices: list[Notice], timings: dict[str, float], standalone: str, verdict: Verdict) -> Answer:
    """The answer object, built in this one place (a refusal too: its verdict is not answerable)."""
    refused = not verdict.answerable
    supported = [c for c in attribution.sentences if c.citations]
    share = (sum(c.supported for c in supported) / len(supported)) if supported else None
    return Answer(question=question, lang=lang, answer=attribution.text, refused=refused,
                  citations=attribution.citations, llm=llm, timings_ms=timings, notices=_worded(notices, lang),
                  notice_keys=tuple(notices), nearest=tuple(evidence.passages[:3]) if refused else (),
                  sentences=attribution.sentences, supported_share=share, weak_evidence=verdict.weak and not refused,
                  standalone_question=standalone if standalone != question else "", passages=evidence.passages,
                  stated_sentences=attribution.content, unsupported_sentences=attribution.unsupported,
                  answerable_probability=verdict.probability)


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


__all__ = ["Asked", "Assistant", "GenerationFailed", "StreamEvent", "answer_problem", "model_declined"]
