"""Follow-up questions: whether a question leans on the conversation, and the rule that makes it
standalone when no model is available ("那第二条呢？" → previous question + this one)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from assistant.language import detect_lang
from assistant.types import Lang

Turn = tuple[str, str]  # (role "user" | "assistant", text)

_ZH_DEPENDENT = re.compile(r"^(?:那|那么|还有|另外|此外|然后|其|它|这|该|上述|前者|后者|第[一二三四五六七八九十\d]+)|"
                           r"(?:呢[？?]?$)|(?:它|它们|其中|这些|那些|这个|那个|该机构|该报告|他们|她们)")
_EN_DEPENDENT = re.compile(r"^(?:and|but|so|what about|how about|what of|also)\b|"
                           r"\b(?:it|its|they|their|them|this|that|these|those|he|she|his|her|the latter|"
                           r"the former|the same|the second|the first|the last)\b", re.I)


class HistoryError(ValueError):
    """A conversation history that cannot be used as it is."""


def normalise_history(history: Iterable[object], max_turns: int) -> list[Turn]:
    """Accept (role, text) pairs or {"role", "content"} dicts; keep user/assistant turns."""
    turns: list[Turn] = []
    for item in history:
        if isinstance(item, dict):
            role, text = item.get("role"), item.get("content")
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            role, text = item
        else:
            raise HistoryError("each history entry must be a (role, text) pair or a {role, content} object")
        if role not in ("user", "assistant") or not isinstance(text, str):
            raise HistoryError("history roles must be 'user' or 'assistant', with text content")
        turns.append((role, text))
    if len(turns) > max_turns:
        raise HistoryError(f"the conversation has {len(turns)} turns; the limit is {max_turns}: "
                           "start a new conversation")
    return turns


def depends_on_history(question: str, lang: Lang) -> bool:
    text = question.strip()
    if lang == "zh":
        return bool(_ZH_DEPENDENT.search(text)) or len(text) <= 6
    return bool(_EN_DEPENDENT.search(text)) or len(text.split()) <= 3


def rule_condense(question: str, history: Sequence[Turn]) -> str:
    """Prefix a dependent follow-up with the last question asked, so it can be searched alone."""
    previous = next((text for role, text in reversed(history) if role == "user"), "")
    if not previous or not depends_on_history(question, detect_lang(question)):
        return question
    joiner = "" if detect_lang(previous) == "zh" and detect_lang(question) == "zh" else " "
    return f"{previous.strip()}{joiner}{question.strip()}"
