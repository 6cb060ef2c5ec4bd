"""The `Answerer` protocol, and the answerer that has a model write.

    Evidence ─stream─▶ draft text ─cite─▶ Attribution (text with the system's [n], citations)

Every answerer streams a draft from the same `Evidence` and cites it; a model answerer can also
judge whether the evidence states the answer, look for the figure or date a question asks for,
condense a follow-up question and translate quotes. The extractive answerer (`extractive.py`)
quotes instead, and judges, looks for, condenses and translates nothing.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any, Protocol

import numpy as np
from langchain_core.language_models.chat_models import BaseChatModel

from assistant.citations import (
    _MARKER,
    FIGURE_CONFLICT,
    POLARITY_CONFLICT,
    Attribution,
    Attributor,
    clean_model_text,
)
from assistant.conversation import Turn
from assistant.evidence import for_display, shown_sentences
from assistant.generation.prompting import PromptLibrary, format_names
from assistant.language import detect_lang, english_figures, figures_in_english, numbers_in, written_figures
from assistant.types import AnswerKind, Evidence, Lang, ScoredSentence, Translation

log = logging.getLogger(__name__)

_YES = re.compile(r"^\W*(?:yes|是|有|对)", re.I)
_NO = re.compile(r"^\W*(?:no|否|没有|不)", re.I)
# a reply saying the evidence gives no such value (not "无人机", "未来五年")
_NONE = re.compile(r"^\W*(?:none\b|nothing\b|not (?:given|stated|found|mentioned)\b|n/a\b|无(?=$|\W)|没有"
                   r"|未(?:给出|提及|提到|说明))", re.I)
# question kinds whose answer the model is asked to copy out of the evidence (prompt sections)
FIND_TASKS = {AnswerKind.QUANTITY: "find_quantity", AnswerKind.DATE: "find_date"}
# quoted sentences whose translation was not checked, translated once more each on its own
TRANSLATION_RETRIES = 3
_NUMBERED_LINE = re.compile(r"^\s*[\[【［(（]?\s*(\d{1,2})\s*[\]】］)）.:：、]\s*(.+?)\s*$")


class GenerationFailed(Exception):
    """The model produced no usable answer; `key` is the reason's message key ("problem_…",
    worded in the reader's language by `assistant.messages`)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class Answerer(Protocol):
    name: str  # what the answer's `llm` field says
    writes: bool  # its own words (cited by attribution), not quotes

    def fit(self, evidence: Evidence) -> Evidence: ...

    def stream(self, evidence: Evidence, should_stop: Callable[[], bool] | None = None) -> Iterator[str]: ...

    def cite(self, draft: str, evidence: Evidence) -> Attribution: ...

    def judge(self, evidence: Evidence) -> float | None: ...

    def finds_value(self, evidence: Evidence) -> bool | None: ...

    def condense(self, question: str, lang: Lang, turns: Sequence[Turn]) -> str | None: ...

    def render(self, question: str, lang: Lang) -> str | None: ...

    def translate(self, evidence: Evidence) -> dict[int, Translation]: ...


def yes_share(top: dict[str, float]) -> float | None:
    """P(yes) / (P(yes) + P(no)) from the first token's log-probabilities ("Yes", " yes", "是" …)."""
    yes = sum(math.exp(lp) for token, lp in top.items() if _YES.match(token.strip() or "x") and token.strip())
    no = sum(math.exp(lp) for token, lp in top.items() if _NO.match(token.strip() or "x") and token.strip())
    return yes / (yes + no) if yes + no > 0 else None


MIN_FITTED_SENTENCES = 3
RENDER_MAX_TOKENS = 60


def without_sentence(evidence: Evidence, index: int) -> Evidence:
    """The evidence without its `index`-th numbered sentence (and that sentence's vector)."""
    numbered = evidence.numbered[:index] + evidence.numbered[index + 1:]
    vectors = evidence.vectors
    if vectors is not None and len(vectors) == len(evidence.numbered):
        vectors = np.delete(vectors, index, axis=0)
    return replace(evidence, numbered=numbered, vectors=vectors)


class ModelAnswerer:
    """A chat model writes a short answer from the numbered evidence; the system cites it."""

    writes = True

    def __init__(self, chat: BaseChatModel, name: str, prompts: PromptLibrary, attributor: Callable[[], Attributor],
                 names_of: Callable[[Evidence], Sequence[tuple[str, str]]], timeout: float,
                 remove_unsupported: bool = True, unchecked_translation_floor: float = 0.6,
                 max_prompt_tokens: int = 0) -> None:
        self.chat = chat
        self.name = name
        self.prompts = prompts
        self.attributor = attributor
        self.names_of = names_of
        self.timeout = timeout
        self.remove_unsupported = remove_unsupported
        self.unchecked_translation_floor = unchecked_translation_floor
        self.max_prompt_tokens = max_prompt_tokens

    def fit(self, evidence: Evidence) -> Evidence:
        """The evidence as this model reads it: while the writing prompt is longer than
        `max_prompt_tokens` (counted by the model's own tokenizer, where it has one in process), the
        lowest-scoring sentence is left out, down to `MIN_FITTED_SENTENCES`. A report's own list
        (an outline's headings) is kept whole. The judgement, the writing and the attribution all
        read the result, so the numbers the model sees are the numbers its sentences are cited by."""
        size = getattr(self.chat, "prompt_size", None)
        if self.max_prompt_tokens <= 0 or size is None or evidence.outline:
            return evidence
        while len(evidence.numbered) > MIN_FITTED_SENTENCES:
            if size(self._messages(evidence, "write")) <= self.max_prompt_tokens:
                break
            evidence = without_sentence(evidence, min(range(len(evidence.numbered)),
                                                      key=lambda i: evidence.numbered[i].score))
        return evidence

    def _messages(self, evidence: Evidence, task: str) -> list[Any]:
        names = format_names(evidence, evidence.query.lang, self.names_of(evidence))
        return self.prompts.answer(evidence, task, names)

    def _in(self, lang: Lang) -> dict[str, Any]:
        """The argument that keeps a reply in `lang`, for a chat model that honours it (the
        in-process llama.cpp model masks Chinese characters from an English reply)."""
        return {"reply_lang": lang} if getattr(self.chat, "constrains_reply_language", False) else {}

    def stream(self, evidence: Evidence, should_stop: Callable[[], bool] | None = None) -> Iterator[str]:
        """The model's words as they come, without prompt material (tags, template tokens)."""
        deadline = time.monotonic() + self.timeout
        stream = self.chat.stream(self._messages(evidence, "write"), **self._in(evidence.query.lang))
        text, shown = "", ""
        try:
            for chunk in stream:
                if should_stop is not None and should_stop():
                    raise GenerationFailed("problem_client_gone")
                if time.monotonic() > deadline:
                    raise GenerationFailed("problem_timeout")  # longer than llm_timeout
                token = chunk.content if isinstance(chunk.content, str) else ""
                if not token:
                    continue
                text += token
                safe = text[: text.rfind("<")] if text.rfind("<") > text.rfind(">") else text
                cleaned = clean_model_text(safe)
                if cleaned.startswith(shown) and len(cleaned) > len(shown):
                    yield cleaned[len(shown):]
                    shown = cleaned
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()  # stops a local generation mid-way
        rest = clean_model_text(text)
        if rest.startswith(shown) and len(rest) > len(shown):
            yield rest[len(shown):]

    def cite(self, draft: str, evidence: Evidence) -> Attribution:
        return self.attributor().attribute(draft, evidence, remove_unsupported=self.remove_unsupported)

    def judge(self, evidence: Evidence) -> float | None:
        """P(the evidence states the answer), from the model's first-token probabilities of yes
        and no; a model that gives no probabilities is read off its reply (1 or 0)."""
        messages = self._messages(evidence, "judge")
        judge = getattr(self.chat, "yes_probability", None)
        if callable(judge):
            result = judge(messages)
            return float(result) if result is not None else None
        try:
            reply = self.chat.bind(logprobs=True, top_logprobs=10).invoke(messages, max_tokens=1)
            content = reply.response_metadata.get("logprobs", {}).get("content") or []
            if content:
                top = {item["token"]: item["logprob"] for item in content[0].get("top_logprobs", [])}
                share = yes_share(top)
                if share is not None:
                    return share
            text = str(reply.content)
        except Exception as err:  # servers without logprobs: ask for the word
            log.info("no log-probabilities from the model (%s); reading its reply", type(err).__name__)
            text = str(self.chat.invoke(messages, max_tokens=3).content)
        if _YES.match(text):
            return 1.0
        if _NO.match(text):
            return 0.0
        return None

    def finds_value(self, evidence: Evidence) -> bool | None:
        """For a question asking for a figure or a date: whether the model, asked to copy that
        value out of the evidence, finds one (False when it replies that the evidence gives none,
        or gives a figure the evidence does not state). None for other kinds of question."""
        task = FIND_TASKS.get(evidence.query.kind)
        if task is None or not evidence.query.only_asks(evidence.query.kind):
            return None  # a question asking something else too may be answered in part
        reply = clean_model_text(str(self.chat.invoke(self._messages(evidence, task), max_tokens=12,
                                                      temperature=0).content)).strip()
        if not reply or _NONE.match(reply):
            return False
        # a figure it copied must be one the evidence states, at its value or as written ("200" of "200多万"),
        # or as the prompt's English form of it gives it ("223" of "2.23亿 = 223 million")
        figures = numbers_in(reply)
        shown = " ".join(f"{evidence.passages[s.passage].where()} {s.text}" for s in evidence.numbered)
        if evidence.query.lang == "en":
            shown += " " + " ".join(english for _, english in english_figures(shown))
        return not figures or bool(figures & (numbers_in(shown) | written_figures(shown)))

    def condense(self, question: str, lang: Lang, turns: Sequence[Turn]) -> str | None:
        messages = self.prompts.condense(question, lang, turns[-6:])
        rewritten = str(self.chat.invoke(messages, max_tokens=96).content).strip().splitlines()
        candidate = clean_model_text(rewritten[0]).strip().strip('"“”') if rewritten else ""
        return candidate if 2 <= len(candidate) <= 4 * len(question) + 200 else None

    def render(self, question: str, lang: Lang) -> str | None:
        """The question rendered in the other language, as its reports would word it, to search
        with (one line; None when the model gives nothing usable)."""
        reply = str(self.chat.invoke(self.prompts.render(question, lang), max_tokens=RENDER_MAX_TOKENS,
                                     temperature=0, stop=["\n"]).content)
        lines = [line for line in clean_model_text(reply).strip().splitlines() if line.strip()]
        rendered = lines[0].strip().strip('"“”') if lines else ""
        if not rendered or detect_lang(rendered) == lang or len(rendered) > 4 * len(question) + 100:
            return None
        return rendered

    def translate(self, evidence: Evidence) -> dict[int, Translation]:
        """The quoted sentences and the outline's headings (`shown_sentences`) in another language
        than the question's, translated by the model: {index in `shown_sentences(evidence)`:
        translation}, each in the question's language. A translation is checked when the system
        finds that it restates its own source sentence (the attribution test a written sentence
        passes: the same concepts or meaning, every figure and name of it in the source). One that
        falls short of that test but scores at least `unchecked_translation_floor` of it, states
        no figure its source lacks and no yes where it says no, is kept unchecked (shown marked,
        for a reader who cannot read the original: often a name the model spelled its own way);
        the others are left to the quoting answer, which points to their originals.

        The sentences are translated together, in one reply; then up to `TRANSLATION_RETRIES` of
        those whose translation was not checked are translated once more, each on its own, with
        its magnitude figures already in English ("3.5亿" → "350 million"): reading several, a small
        model carries words from one sentence into the next, and it gets a power of ten wrong. The
        better of the two attempts is kept."""
        lang = evidence.query.lang
        shown = shown_sentences(evidence)
        foreign = [i for i, s in enumerate(shown) if s.lang != lang]
        if not foreign:
            return {}
        names = format_names(evidence, lang, self.names_of(replace(evidence, numbered=shown)))
        sources = replace(evidence, numbered=shown, vectors=None)
        kept = self._checked_translations(self._translated(foreign, shown, lang, names), sources)
        again = [i for i in foreign if i not in kept or not kept[i].checked][:TRANSLATION_RETRIES]
        if again:
            drafts: dict[int, str] = {}
            for i in again:
                drafts.update(self._translated([i], shown, lang, names, figures_inline=True))
            for i, second in self._checked_translations(drafts, sources).items():
                if i not in kept or second.checked:
                    kept[i] = second
        checked = sum(t.checked for t in kept.values())
        log.info("translated %d of %d quoted sentences (%d more unchecked, %d left in the original; "
                 "%d translated again)", checked, len(foreign), len(kept) - checked, len(foreign) - len(kept),
                 len(again))
        return kept

    def _translated(self, indices: Sequence[int], shown: Sequence[ScoredSentence], lang: Lang, names: str,
                    figures_inline: bool = False) -> dict[int, str]:
        """One reply translating `shown[i]` for each i in `indices`: {i: its translation} (a
        sentence whose line is missing or not in `lang` is left out)."""
        texts = [for_display(shown[i].text) for i in indices]
        if figures_inline and lang == "en":
            texts = [figures_in_english(text) for text in texts]
        messages = self.prompts.translate(texts, lang, names)
        budget = min(sum(32 + len(shown[i].text) for i in indices), 512)
        reply = clean_model_text(str(self.chat.invoke(messages, max_tokens=budget, **self._in(lang)).content))
        lines: dict[int, list[str]] = {}
        current = 0
        for line in reply.splitlines():
            found = _NUMBERED_LINE.match(line)
            if found and 1 <= int(found.group(1)) <= len(indices) and int(found.group(1)) not in lines:
                current = int(found.group(1))
                lines[current] = [found.group(2)]
            elif current and line.strip():  # a list the sentence holds, on lines of its own
                lines[current].append(line.strip())
        drafts: dict[int, str] = {}
        for number, parts in lines.items():
            text = " ".join(_MARKER.sub("", " ".join(parts)).split())
            if text and detect_lang(text, default=lang) == lang:
                drafts[indices[number - 1]] = text
        return drafts

    def _checked_translations(self, drafts: dict[int, str], sources: Evidence) -> dict[int, Translation]:
        """The translations worth showing: checked when one restates its source sentence,
        unchecked when it reaches the floor with no figure or yes/no conflict."""
        if not drafts:
            return {}
        order = list(drafts)
        scores = self.attributor().match_with_conflicts([drafts[i] for i in order], sources)
        kept: dict[int, Translation] = {}
        floor = self.unchecked_translation_floor
        for (_, _, singles, conflicts), i in zip(scores, order, strict=True):
            if singles[i] >= 1.0:
                kept[i] = Translation(drafts[i])
            elif singles[i] >= floor and not conflicts[i] & (FIGURE_CONFLICT | POLARITY_CONFLICT):
                kept[i] = Translation(drafts[i], checked=False)
        return kept
