"""Optional judge metrics: faithfulness (the sources support the answer) and correctness (the
answer states the reference facts), graded by any OpenAI-compatible model with the prompts in
`prompts/` (judge_faithfulness_*, judge_correctness_*, in the question's language). The
judge's raw replies are kept beside the parsed grades; a reply that cannot be read gives no
grade rather than a guessed one."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from assistant.config import Settings
from assistant.evaluation.dataset import GoldItem
from assistant.generation import PromptLibrary
from assistant.generation.prompting import neutralise
from assistant.types import Answer, Lang, Passage

log = logging.getLogger(__name__)

_SCORE = re.compile(r'"?score"?\s*[:：]\s*"?([01](?:\.\d+)?)')


def parse_verdict(reply: str) -> tuple[float | None, str]:
    """(score in [0, 1] or None, reason) from a judge's reply: JSON first, then a lenient read."""
    text = reply.strip()
    for candidate in (text, *re.findall(r"\{[^{}]*\}", text)):
        try:
            data = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and isinstance(data.get("score"), (int, float, str)):
            try:
                score = float(data["score"])
            except ValueError:
                continue
            if 0.0 <= score <= 1.0:
                return score, str(data.get("reason", ""))
    match = _SCORE.search(text)
    if match and 0.0 <= float(match.group(1)) <= 1.0:
        return float(match.group(1)), ""
    return None, ""


NO_ANSWER = {"zh": "报告中没有这个问题的答案。", "en": "The reports do not contain the answer to this question."}


def reference_text(item: GoldItem, lang: Lang) -> str:
    if not item.answerable:
        return NO_ANSWER[lang]
    facts = ["; ".join(forms) for forms in item.key_facts]
    lines = [f"- {fact}" for fact in facts] or [f"- {span}" for span in item.evidence]
    return "\n".join(lines) if lines else "(no reference facts)"


def format_sources(passages: list[Passage]) -> str:
    """The cited passages, numbered, for the judge."""
    return "\n".join(f"[{n}] {neutralise(p.where())}\n{neutralise(p.text)}" for n, p in enumerate(passages, start=1))


class Judge:
    def __init__(self, settings: Settings, prompts: PromptLibrary | None = None) -> None:
        from assistant.generation.backends import ModelChoice, make_chat_model

        self.settings = settings
        self.model, self.name = make_chat_model(settings, ModelChoice("openai", "openai", settings.llm_model))
        self.prompts = prompts or PromptLibrary()

    def _ask(self, purpose: str, lang: Lang, **values: str) -> dict[str, Any]:
        messages = self.prompts.get(purpose, lang).messages(**values)
        try:
            reply = str(self.model.invoke(messages).content)
        except Exception as err:  # a judge that fails leaves the grade empty, never the run
            log.warning("the judge failed on %s (%s)", purpose, err)
            return {"score": None, "reason": "", "raw": "", "error": f"{type(err).__name__}: {err}"}
        score, reason = parse_verdict(reply)
        return {"score": score, "reason": reason, "raw": reply}

    def grade(self, item: GoldItem, answer: Answer) -> dict[str, Any]:
        """{"faithfulness": score, "correctness": score, "judge": {purpose: verdict with raw reply}}."""
        lang = answer.lang
        text = neutralise(answer.answer)
        cited = [c.passage for c in answer.citations] or list(answer.nearest)
        verdicts = {
            "faithfulness": self._ask("judge_faithfulness", lang, sources=format_sources(cited),
                                      question=neutralise(item.question), answer=text),
            "correctness": self._ask("judge_correctness", lang, reference=neutralise(reference_text(item, lang)),
                                     question=neutralise(item.question), answer=text),
        }
        return {"faithfulness": verdicts["faithfulness"]["score"], "correctness": verdicts["correctness"]["score"],
                "judge": {"model": self.name, **verdicts}}
