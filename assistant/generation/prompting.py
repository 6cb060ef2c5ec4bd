"""Prompt templates (files in `prompts/`, one per purpose and language) turned into chat messages.

An answer prompt is evidence first: the numbered evidence sentences with their report and
section, the glossary's English names of what they mention, then the question. Its `## write`
and `## judge` sections are instructions put after that shared start, so the model's state for
the start serves both the answerability judgement and the writing. Text from reports and
questions is data: tag look-alikes in it are neutralised so it cannot close a wrapper.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from assistant.language import english_figures
from assistant.types import Evidence, Lang

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
_TAG_LOOKALIKE = re.compile(r"</?\s*(source|question|conversation|system|user|assistant|evidence)\b[^>]*>"
                            r"|<\|[^|>]{1,40}\|>", re.I)
MAX_NAMES = 6
MAX_FIGURES = 6


class PromptError(RuntimeError):
    """A prompt file is missing or malformed."""


@dataclass(frozen=True)
class PromptTemplate:
    sections: dict[str, Template]

    @classmethod
    def load(cls, path: Path) -> PromptTemplate:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as err:
            raise PromptError(f"prompt file {path} is missing: restore it from the repository") from err
        parts = re.split(r"^##\s+(\w+)\s*$", text, flags=re.M)
        sections = {parts[i]: Template(parts[i + 1].strip()) for i in range(1, len(parts) - 1, 2)}
        if not {"system", "user"} <= set(sections):
            raise PromptError(f"prompt file {path} needs a '## system' and a '## user' section")
        return cls(sections)

    def messages(self, suffix: str | None = None, **values: str) -> list[BaseMessage]:
        """System and user messages; `suffix` names a section appended to the user message."""
        user = self.sections["user"].safe_substitute(values)
        if suffix is not None:
            if suffix not in self.sections:
                raise PromptError(f"the prompt has no '## {suffix}' section")
            user = f"{user}\n\n{self.sections[suffix].safe_substitute(values)}"
        return [SystemMessage(self.sections["system"].safe_substitute(values)), HumanMessage(user)]


def neutralise(text: str) -> str:
    """Make tag look-alikes inert (so a document cannot write `</source>` and break out)."""
    return _TAG_LOOKALIKE.sub(lambda m: m.group(0).replace("<", "‹").replace(">", "›"), text)


def format_evidence(evidence: Evidence, shorten: Callable[[str], str] = lambda s: s) -> str:
    """"[n] (Report › section) sentence", one line per numbered evidence sentence (the section
    is the innermost heading); the place is said once for consecutive sentences from it."""
    lines = []
    previous = ""
    for number, sentence in enumerate(evidence.numbered, start=1):
        passage = evidence.passages[sentence.passage]
        section = passage.section_under(passage.title).split(" > ")[-1].strip()
        where = neutralise(f"{passage.title} › {section}" if section else passage.title)
        text = neutralise(" ".join(shorten(sentence.text).split()))
        lines.append(f"[{number}] {text}" if where == previous else f"[{number}] ({where}) {text}")
        previous = where
    return "\n".join(lines)


def format_names(evidence: Evidence, lang: Lang, glossary_names: Sequence[tuple[str, str]]) -> str:
    """"Names: 布莱切利 = Bletchley; …" for the glossary terms the evidence mentions, and "Figures:
    3.5亿 = 350 million; …" for the figures it writes with a Chinese magnitude, when the question
    is English (a Chinese question needs no translations)."""
    if lang != "en":
        return ""
    lines = []
    if glossary_names:
        lines.append("Names: " + "; ".join(f"{zh} = {en}" for en, zh in glossary_names[:MAX_NAMES]))
    figures = english_figures(" ".join(s.text for s in evidence.numbered))
    if figures:
        lines.append("Figures: " + "; ".join(f"{zh} = {en}" for zh, en in figures[:MAX_FIGURES]))
    return "".join(f"{line}\n" for line in lines)


class PromptLibrary:
    def __init__(self, folder: Path = PROMPTS_DIR) -> None:
        self.folder = folder
        self._cache: dict[str, PromptTemplate] = {}

    def get(self, purpose: str, lang: Lang) -> PromptTemplate:
        key = f"{purpose}_{lang}"
        if key not in self._cache:
            self._cache[key] = PromptTemplate.load(self.folder / f"{key}.md")
        return self._cache[key]

    def answer(self, evidence: Evidence, task: str, names: str = "") -> list[BaseMessage]:
        """The evidence-first prompt, then the `task` ("write" or "judge") instruction."""
        query = evidence.query
        return self.get("answer", query.lang).messages(
            task, evidence=format_evidence(evidence), names=names, question=neutralise(query.text))

    def condense(self, question: str, lang: Lang, history: Sequence[tuple[str, str]]) -> list[BaseMessage]:
        lines = [f"{'User' if role == 'user' else 'Assistant'}: {neutralise(text)}" for role, text in history]
        return self.get("condense", lang).messages(history="\n".join(lines), question=neutralise(question))

    def translate(self, sentences: Sequence[str], lang: Lang, names: str = "") -> list[BaseMessage]:
        """Sentences numbered [1]…[n], to be translated into `lang`, with the glossary's names
        of what they mention ("Names: 布莱切利 = Bletchley; …")."""
        numbered = "\n".join(f"[{n}] {neutralise(' '.join(s.split()))}" for n, s in enumerate(sentences, start=1))
        return self.get("translate", lang).messages(sentences=numbered, names=names)

    def render(self, question: str, lang: Lang) -> list[BaseMessage]:
        """The question (in `lang`) to be rendered in the other language, for searching."""
        return self.get("render", lang).messages(question=neutralise(question))
