"""The shared vocabulary: documents, chunks and retrieved passages. Data only, no behaviour."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Lang = Literal["zh", "en"]


@dataclass(frozen=True)
class Heading:
    """A heading in a cleaned document: `text[start:end]` is its title."""

    start: int
    end: int
    level: int
    title: str


@dataclass(frozen=True)
class DocumentInfo:
    """What the corpus manifest says about a report (or what was guessed for a dropped-in file)."""

    doc_id: str
    title_zh: str = ""
    title_en: str = ""
    publishers: tuple[str, ...] = ()
    date: str = ""
    language: str = ""
    notes: str = ""
    aliases: tuple[str, ...] = ()  # other names users call the report by ("智库报告", "the UN report")

    def title(self, lang: str) -> str:
        """The title in `lang`, falling back to the other language."""
        first, second = (self.title_en, self.title_zh) if lang == "en" else (self.title_zh, self.title_en)
        return first or second or self.doc_id


@dataclass(frozen=True)
class Document:
    """A loaded and cleaned report. `text` is the cleaned text that chunk offsets point into."""

    info: DocumentInfo
    source: str  # path relative to the corpus folder
    sha256: str  # of the source file's bytes
    text: str
    lang: Lang
    headings: tuple[Heading, ...] = ()

    @property
    def doc_id(self) -> str:
        return self.info.doc_id


@dataclass(frozen=True)
class Chunk:
    """A piece of a document: `document.text[char_start:char_end] == text`."""

    chunk_id: str
    doc_id: str
    ordinal: int
    text: str
    char_start: int
    char_end: int
    section: str
    lang: Lang
    kind: str = "body"  # "body", or "reference": bibliography, URLs, text in another language


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk, as every surface shows it (the passage object of the design contract)."""

    rank: int
    chunk_id: str
    doc_id: str
    title: str
    section: str
    text: str
    score: float
    char_start: int
    char_end: int
    lang: Lang = "zh"
    scores: dict[str, float] = field(default_factory=dict)
    context_before: str = ""  # neighbouring text, when asked for; never part of the ranking
    context_after: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for extra in ("context_before", "context_after"):
            if not data[extra]:
                del data[extra]
        return data
