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

    def section_under(self, title: str) -> str:
        """The section path without the headings at its start that repeat the report title shown
        with it (a report whose first heading is its title: "首届人工智能安全峰会开得怎样？ > 两类…")."""
        parts = self.section.split(" > ")
        while parts and " ".join(parts[0].split()) == " ".join(title.split()):
            parts.pop(0)
        return " > ".join(parts)

    def where(self) -> str:
        """"report title › section", for a line naming where the passage is."""
        section = self.section_under(self.title)
        return f"{self.title} › {section}" if section else self.title

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for extra in ("context_before", "context_after"):
            if not data[extra]:
                del data[extra]
        return data


@dataclass(frozen=True)
class ScoredSentence:
    """A sentence of a retrieved passage, scored for how well it answers the question."""

    passage: int  # 0-based rank of the passage it comes from
    position: int  # order within the passage
    text: str
    score: float
    item: bool = False  # an item of the list that the sentence before it introduces
    also: tuple[int, ...] = ()  # other passages that say nearly the same (a summary repeating its body)


@dataclass(frozen=True)
class Citation:
    """An answer's [n] and the passage it points to."""

    n: int
    passage: Passage

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, **self.passage.to_dict()}


@dataclass(frozen=True)
class SentenceCheck:
    """One sentence of an answer, the citations it carries, and whether they support it."""

    text: str
    citations: tuple[int, ...]
    supported: bool
    score: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """The answer object of the design contract, plus what the surfaces show besides it."""

    question: str
    lang: Lang
    answer: str  # text with [n] markers; quoted source text on "> " lines
    refused: bool
    citations: tuple[Citation, ...]
    llm: str  # which backend answered: "extractive", "local:<model>", "openai:<model>"
    timings_ms: dict[str, float] = field(default_factory=dict)
    notices: tuple[str, ...] = ()  # e.g. the model failed and the extractive answer stands in
    nearest: tuple[Passage, ...] = ()  # when refused: the closest passages, for the reader
    sentences: tuple[SentenceCheck, ...] = ()
    supported_share: float | None = None  # share of cited sentences their passages support
    standalone_question: str = ""  # the follow-up rewritten as a self-contained question
    weak_evidence: bool = False  # the best passage scored below the caution threshold (a notice says so)
    passages: tuple[Passage, ...] = ()  # what the answer step was given (for evaluation; not in to_dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "lang": self.lang,
            "answer": self.answer,
            "refused": self.refused,
            "citations": [c.to_dict() for c in self.citations],
            "llm": self.llm,
            "timings_ms": self.timings_ms,
            "notices": list(self.notices),
            "nearest": [p.to_dict() for p in self.nearest],
            "sentences": [s.to_dict() for s in self.sentences],
            "supported_share": self.supported_share,
            "standalone_question": self.standalone_question,
            "weak_evidence": self.weak_evidence,
        }
