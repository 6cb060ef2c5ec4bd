"""Follow-up questions: whether a question leans on the conversation, and the rule that makes it
standalone when no model is available.

The rule resolves what a follow-up points back to: an ordinal ("第二条具体是什么？", "What does
the third one say?") becomes that item of the previous answer's list; a pronoun ("Which countries
signed it?", "它由谁负责？") becomes the name the previous question was about (a glossary name,
else the previous question itself); anything else that leans on the conversation is searched
together with the previous question.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from assistant.language import detect_lang
from assistant.types import Lang

if TYPE_CHECKING:
    from assistant.glossary import Glossary

Turn = tuple[str, str]  # (role "user" | "assistant", text)

_ZH_DEPENDENT = re.compile(r"^(?:那|那么|还有|另外|此外|然后|其|它|这|该|上述|前者|后者|第[一二三四五六七八九十\d]+)|"
                           r"(?:呢[？?]?$)|(?:它|它们|其中|这些|那些|这个|那个|该机构|该报告|他们|她们)")
_EN_DEPENDENT = re.compile(r"^(?:and|but|so|what about|how about|what of|also)\b|"
                           r"\b(?:it|its|they|their|them|this|that|these|those|he|she|his|her|the latter|"
                           r"the former|the same|the second|the first|the last)\b", re.I)
_ZH_ORDINAL = re.compile(r"第\s*([一二三四五六七八九十]|\d{1,2})\s*(?:条|项|个|点|种|类|部分)?")
_EN_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
                "eighth": 8, "ninth": 9, "tenth": 10, "last": -1}
_EN_ORDINAL = re.compile(r"\bthe (" + "|".join(_EN_ORDINALS) + r")(?: one| item| point| of them)?\b"
                         r"|\bnumber (\d{1,2})\b|\bitem (\d{1,2})\b", re.I)
_ZH_NUMERALS = {c: i for i, c in enumerate("一二三四五六七八九十", start=1)}
_ZH_PRONOUN = re.compile(r"它们|它|其|该机构|该报告|这个机构|这份报告|这一机制|这项|他们|她们")
_EN_PRONOUN = re.compile(r"\b(?:it|its|they|them|their|this|that)\b", re.I)
_LIST_ITEM = re.compile(r"^\s*(?:>\s*)?(?:[-*•]|\d{1,2}[.)、])\s+(.+)$")
_MARKER = re.compile(r"\s*[\[【［]\s*\d[\d,\-–\s]*[\]】］]")


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
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise HistoryError("the conversation holds characters that are not valid text: start a new one") from None
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


def list_items(answer: str) -> list[str]:
    """The items of the list in an answer ("- 建议2: … [3]" → "建议2: …"), markers removed."""
    items = []
    for line in answer.splitlines():
        match = _LIST_ITEM.match(line)
        if match:
            items.append(_MARKER.sub("", match.group(1)).strip())
    return [item for item in items if item]


def _ordinal(question: str, lang: Lang) -> tuple[int, str] | None:
    """(position, the words naming it) of an ordinal the question points with: 1-based, -1 for "last"."""
    match = _ZH_ORDINAL.search(question) if lang == "zh" else _EN_ORDINAL.search(question)
    if not match:
        return None
    if lang == "zh":
        raw = match.group(1)
        return (int(raw) if raw.isdigit() else _ZH_NUMERALS[raw]), match.group(0)
    word = (match.group(1) or "").lower()
    number = _EN_ORDINALS[word] if word else int(match.group(2) or match.group(3))
    return number, match.group(0)


def _subject(previous: str, lang: Lang, glossary: Glossary | None) -> str:
    """What the previous question was about: its first glossary name, in the question's language."""
    if glossary is None:
        return ""
    found = glossary.match_zh(previous) if detect_lang(previous) == "zh" else glossary.match_en(previous)
    for form, term in found:
        if detect_lang(form, default=lang) == lang:  # as the previous question wrote it
            written = re.search(r"[\s\-]*".join(map(re.escape, form.split())), previous, re.I)
            name = written.group(0) if written else form
        else:
            names = term.zh if lang == "zh" else term.en
            name = names[0] if names else ""
        if len(name) >= 2:
            return f"the {name}" if lang == "en" and re.match(r"[A-Z]", name) and " " in name else name
    return ""


def rule_condense(question: str, history: Sequence[Turn], lang: Lang | None = None,
                  glossary: Glossary | None = None) -> str:
    """A follow-up made standalone without a model (see the module's docstring)."""
    lang = lang or detect_lang(question)
    previous = next((text for role, text in reversed(history) if role == "user"), "")
    if not previous or not depends_on_history(question, lang):
        return question
    answer = next((text for role, text in reversed(history) if role == "assistant"), "")
    ordinal = _ordinal(question, lang)
    items = list_items(answer)
    if ordinal is not None and items:
        position, words = ordinal
        index = len(items) - 1 if position == -1 else position - 1
        if 0 <= index < len(items):
            item = items[index]
            return question.replace(words, f"“{item}”" if lang == "zh" else f'"{item}"', 1)
    pronoun = (_ZH_PRONOUN if lang == "zh" else _EN_PRONOUN).search(question)
    subject = _subject(previous, lang, glossary)
    if pronoun is not None and subject:
        replacement = subject if lang == "zh" else (f"{subject}'s" if pronoun.group(0).lower() in ("its", "their")
                                                    else subject)
        return f"{question[:pronoun.start()]}{replacement}{question[pronoun.end():]}"
    joiner = "" if detect_lang(previous) == "zh" and lang == "zh" else " "
    return f"{previous.strip()}{joiner}{question.strip()}"
