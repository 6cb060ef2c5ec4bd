"""The shared vocabulary: documents, chunks, questions understood, retrieved passages, evidence
and answers. Data only, no behaviour."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Literal

Lang = Literal["zh", "en"]
Notice = tuple[str, dict[str, Any]]  # a message key (assistant/messages.py) and its values


class AnswerKind(StrEnum):
    """What kind of answer a question asks for."""

    QUANTITY = "quantity"
    DATE = "date"
    DURATION = "duration"
    FREQUENCY = "frequency"
    PERSON = "person"  # who: a person, an office holder, an author
    LIST = "list"
    DEFINITION = "definition"
    REASON = "reason"
    OPEN = "open"


@dataclass(frozen=True)
class Query:
    """A question understood once, before anything is searched; every later stage reads it and
    none works any of it out again."""

    text: str  # the question as asked (or as condensed from a follow-up)
    lang: Lang
    embed_text: str  # normalised: half-width, Simplified, typos in known terms corrected
    terms: dict[str, float]  # keyword terms with weights, both languages
    kind: AnswerKind = AnswerKind.OPEN
    kinds: tuple[AnswerKind, ...] = ()  # the kind each part asks for, when it asks several things

    def only_asks(self, kind: AnswerKind) -> bool:
        """Whether every part of the question asks for an answer of this kind (a question also
        asking for something else can be answered in part without it)."""
        return self.kind is kind and all(k is kind for k in self.kinds)
    translated: tuple[str, ...] = ()  # terms added from the other language
    doc_ids: tuple[str, ...] = ()  # reports the question names
    wants_sources: bool = False  # asks about references, links or sources
    wants_authors: bool = False  # asks who wrote something
    identifiers: tuple[str, ...] = ()  # codes written alike in every language: "ASL-3", "A/74/821"
    # people and products a Chinese question names that no report uses as a word: "刘德明", "NVIDIA"
    proper_names: tuple[str, ...] = ()
    list_nouns: tuple[str, ...] = ()  # what a list question asks a list of, as Chinese nouns ("建议")
    names: tuple[tuple[str, str], ...] = ()  # glossary names found: (English, Chinese)
    # the question with the names the glossary knows written in the other language ("What did the
    # 布莱切利宣言 commit …"): read by the embedder closer to passages in that language; "" when none
    crossed_text: str = ""


@dataclass(frozen=True)
class Heading:
    """A heading in a cleaned document: `text[start:end]` is its title; `byline` the authors a
    table of contents names for it (not in the text there)."""

    start: int
    end: int
    level: int
    title: str
    byline: str = ""

    def label(self) -> str:
        """The title, with its authors when the contents name them: "标题（作者）"."""
        return f"{self.title}（{self.byline}）" if self.byline else self.title


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
    kind: str = "body"  # "body"; "table"; "reference": bibliography, URLs, text in another language; "contents"


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
    lang: Lang = "zh"


@dataclass(frozen=True)
class Evidence:
    """What an answer may rest on. `passages` are the retrieved ones, then any a report's own list
    adds; `scored` every sentence of the top passages; `quoted` the sentences chosen for an answer
    in quotes; `numbered` the sentences a model is given, as [1]…[n] in this order, with their
    vectors in `vectors` (rows alike); `outline` a report's own list of what is asked for
    (heading, passage index), named `outline_noun` in the question's language."""

    query: Query
    passages: tuple[Passage, ...]
    scored: tuple[ScoredSentence, ...] = ()
    quoted: tuple[ScoredSentence, ...] = ()
    numbered: tuple[ScoredSentence, ...] = ()
    vectors: Any = None  # numpy array (len(numbered), dim), or None
    focus: tuple[str, ...] = ()  # the question's most specific terms, rarest first per language
    coverage: float = 1.0  # the largest share of what the question is about one stretch of evidence names
    outline: tuple[tuple[str, int], ...] = ()
    outline_noun: str = ""
    outline_report: str = ""


@dataclass(frozen=True)
class Citation:
    """An answer's [n] and the passage it points to."""

    n: int
    passage: Passage

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, **self.passage.to_dict()}


@dataclass(frozen=True)
class Translation:
    """A model's translation of a quoted sentence into the reader's language. `checked`: the
    system found that it restates its source sentence; an unchecked one is shown marked ⚠, its
    citation opening the original."""

    text: str
    checked: bool = True


@dataclass(frozen=True)
class SentenceCheck:
    """One sentence of an answer, the citations it carries, and whether they support it."""

    text: str
    citations: tuple[int, ...]
    supported: bool
    score: float
    evidence: tuple[str, ...] = ()  # the source sentences it restates (what its citations open on)
    removed: bool = False  # unsupported, and left out of the answer text

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
    stated_sentences: int = 0  # sentences of the answer that state something
    unsupported_sentences: int = 0  # … that no evidence supports (removed or marked, as configured)
    answerable_probability: float | None = None  # the model's P(the evidence states the answer), if asked
    notice_keys: tuple[Notice, ...] = ()  # the notices as message keys, to word them in another language

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
            "stated_sentences": self.stated_sentences,
            "unsupported_sentences": self.unsupported_sentences,
            "answerable_probability": self.answerable_probability,
        }
