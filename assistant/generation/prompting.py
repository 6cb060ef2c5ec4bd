"""Prompt templates (files in `prompts/`) turned into chat messages. Source text and the
question are wrapped in tags and labelled as data, so instructions inside them are not
followed; tag look-alikes inside the text are neutralised so it cannot close its wrapper."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from assistant.types import Lang, Passage

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
_TAG_LOOKALIKE = re.compile(r"</?\s*(source|question|conversation|system|user|assistant)\b[^>]*>", re.I)


class PromptError(RuntimeError):
    """A prompt file is missing or malformed."""


@dataclass(frozen=True)
class PromptTemplate:
    system: Template
    user: Template

    @classmethod
    def load(cls, path: Path) -> PromptTemplate:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as err:
            raise PromptError(f"prompt file {path} is missing: restore it from the repository") from err
        parts = re.split(r"^##\s+(system|user)\s*$", text, flags=re.M)
        sections = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
        if set(sections) != {"system", "user"}:
            raise PromptError(f"prompt file {path} needs a '## system' and a '## user' section")
        return cls(Template(sections["system"]), Template(sections["user"]))

    def messages(self, **values: str) -> list[BaseMessage]:
        return [SystemMessage(self.system.safe_substitute(values)),
                HumanMessage(self.user.safe_substitute(values))]


def neutralise(text: str) -> str:
    """Make tag look-alikes inert (so a document cannot write `</source>` and break out)."""
    return _TAG_LOOKALIKE.sub(lambda m: m.group(0).replace("<", "‹").replace(">", "›"), text)


def format_sources(passages: Sequence[Passage]) -> str:
    blocks = []
    for number, passage in enumerate(passages, start=1):
        title = neutralise(passage.title).replace('"', "'")
        section = neutralise(passage.section).replace('"', "'")
        blocks.append(f'<source id="{number}" title="{title}" section="{section}">\n'
                      f"{neutralise(passage.text)}\n</source>")
    return "\n".join(blocks)


class PromptLibrary:
    def __init__(self, folder: Path = PROMPTS_DIR) -> None:
        self.folder = folder
        self._cache: dict[str, PromptTemplate] = {}

    def get(self, purpose: str, lang: Lang) -> PromptTemplate:
        key = f"{purpose}_{lang}"
        if key not in self._cache:
            self._cache[key] = PromptTemplate.load(self.folder / f"{key}.md")
        return self._cache[key]

    def answer(self, question: str, lang: Lang, passages: Sequence[Passage]) -> list[BaseMessage]:
        return self.get("answer", lang).messages(sources=format_sources(passages), question=neutralise(question))

    def condense(self, question: str, lang: Lang, history: Sequence[tuple[str, str]]) -> list[BaseMessage]:
        lines = [f"{'User' if role == 'user' else 'Assistant'}: {neutralise(text)}" for role, text in history]
        return self.get("condense", lang).messages(history="\n".join(lines), question=neutralise(question))

    def rewrite(self, question: str, lang: Lang) -> list[BaseMessage]:
        return self.get("rewrite", lang).messages(question=neutralise(question))
