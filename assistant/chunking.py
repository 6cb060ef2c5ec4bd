"""Splitting a cleaned document into chunks along its structure and sentences.

A chunk never starts inside a sentence and never cuts one, unless that sentence alone is
longer than the chunk size (then it is cut at clause punctuation, and only then anywhere).
A new section starts a new chunk once the current one holds a useful amount of text, and
each chunk carries the heading path of its section. Offsets point into the cleaned text:
`document.text[chunk.char_start:chunk.char_end] == chunk.text`.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from assistant.ingest.structure import is_contents_title, is_table_row
from assistant.language import CJK_CHARS, cjk_count, detect_lang
from assistant.types import Chunk, Document, Heading

CHUNKER_VERSION = 5

# A sentence ends at 。！？… (with closing quotes), at .!? followed by space (English), or at a
# full stop between a word and Chinese text (a note's "…/facts.联合国…", a PDF's "答复.秘书长…").
_SENTENCE_END = re.compile(
    r"[。！？!?…]+[”’\"'」』）)\]]*|(?<=[a-z0-9)\]\"”’])[.!?][\"”’)\]]*(?=\s)|[.!?](?=\s+[A-Z\"“(])"
    rf"|(?<=[^\W\d_])\.(?=[{CJK_CHARS}])"
)
_CLAUSE_END = re.compile(r"[；;，,：:、]")
# a clause too short to be a sentence that introduces what follows: "其任务是:"
_SHORT_LEAD_IN = re.compile(r"[^\W\d_]{2,}[：:]")
_REFERENCE_MARKS = re.compile(
    r"https?://|www\.|\bvol\.\s*\d|\bpp\.\s*\d|\band others\b|\bet al\.|\bdoi:|可查阅|检索自|available at",
    re.I)


@dataclass(frozen=True)
class ChunkerSettings:
    chunk_size: int = 400
    chunk_overlap: int = 100
    version: int = CHUNKER_VERSION

    def __post_init__(self) -> None:
        if self.chunk_size < 50:
            raise ValueError(f"chunk_size {self.chunk_size} is too small: use at least 50 characters")
        if not 0 <= self.chunk_overlap < self.chunk_size // 2:
            raise ValueError("chunk_overlap must be between 0 and half of chunk_size")

    def as_dict(self) -> dict[str, int]:
        return {"chunk_size": self.chunk_size, "chunk_overlap": self.chunk_overlap, "version": self.version}


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    heading: bool = False
    paragraph_start: bool = False
    reference: bool = False  # part of a reference line (kept apart from body text)


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of the sentences in `text[start:end]` (one paragraph), trailing spaces excluded."""
    spans = []
    cursor = start
    for match in _SENTENCE_END.finditer(text, start, end):
        stop = match.end()
        if stop > cursor:
            spans.append((cursor, stop))
        cursor = stop
        while cursor < end and text[cursor] == " ":
            cursor += 1
    if cursor < end and text[cursor:end].strip():
        spans.append((cursor, end))
    return spans


def _split_long(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Cut an over-long sentence at clause punctuation, and only where that fails, anywhere."""
    pieces: list[tuple[int, int]] = []
    cursor = start
    while end - cursor > limit:
        window_end = cursor + limit
        cut = 0
        for match in _CLAUSE_END.finditer(text, cursor + limit // 3, window_end):
            cut = match.end()
        if not cut:
            space = text.rfind(" ", cursor + limit // 3, window_end)
            cut = space + 1 if space > 0 else window_end
        pieces.append((cursor, cut))
        cursor = cut
    pieces.append((cursor, end))
    return pieces


def _units(document: Document, limit: int) -> list[_Span]:
    """Headings and sentences of the document, in order."""
    text = document.text
    heading_starts = {h.start for h in document.headings}
    units: list[_Span] = []
    offset = 0
    for line in text.split("\n"):
        line_start, line_end = offset, offset + len(line)
        offset = line_end + 1
        if not line.strip():
            continue
        if line_start in heading_starts:
            units.append(_Span(line_start, line_end, heading=True, paragraph_start=True))
            continue
        first = True
        reference = is_reference_line(line, document.lang)
        for s_start, s_end in sentence_spans(text, line_start, line_end):
            pieces = ([(s_start, s_end)] if s_end - s_start <= limit
                      else _split_long(text, s_start, s_end, limit))
            for p_start, p_end in pieces:
                units.append(_Span(p_start, p_end, paragraph_start=first, reference=reference))
                first = False
    return units


def is_reference_line(line: str, document_lang: str) -> bool:
    """A bibliography entry, a URL or source note, or a long line in another language than its
    report (an English source note inside a Chinese report)."""
    cjk = cjk_count(line)
    if _REFERENCE_MARKS.search(line) and cjk < 30:  # a Chinese footnote with a link is still prose
        return True
    latin = len(re.findall(r"[A-Za-z]", line))
    return document_lang == "zh" and latin >= 60 and latin > 2 * cjk


def chunk_kind(text: str, document_lang: str, in_contents: bool = False) -> str:
    """"contents" for the entries of a table of contents (what the cleaner kept of it: titles and
    bylines), "table" when table rows make up most of the chunk (ranked as body text), "reference"
    when reference lines do, else "body"."""
    if in_contents:
        return "contents"
    lines = [line for line in text.split("\n") if line.strip()]
    if lines and sum(len(line) for line in lines if is_table_row(line)) * 2 > len(text):
        return "table"
    reference = sum(len(line) for line in text.split("\n") if is_reference_line(line, document_lang))
    return "reference" if reference * 2 > len(text) else "body"


def _section_path(headings: tuple[Heading, ...], starts: list[int], offset: int) -> str:
    """The heading path in force at `offset`, e.g. "4. 加强全球合作 > A. 统一认知"."""
    stack: list[Heading] = []
    for heading in headings[: bisect.bisect_right(starts, offset)]:
        while stack and stack[-1].level >= heading.level:
            stack.pop()
        stack.append(heading)
    return " > ".join(h.label() for h in stack[-3:])


def _contents_spans(document: Document) -> list[tuple[int, int]]:
    """Where the document's tables of contents are: from a contents heading to the next heading
    of its level or above."""
    spans = []
    headings = document.headings
    for i, heading in enumerate(headings):
        if is_contents_title(heading.title):
            end = next((h.start for h in headings[i + 1:] if h.level <= heading.level), len(document.text))
            spans.append((heading.start, end))
    return spans


def _within(spans: list[tuple[int, int]], offset: int) -> bool:
    return any(start <= offset < end for start, end in spans)


def chunk_sentences(chunk: Chunk, min_chars: int = 6) -> list[str]:
    """The sentences of a chunk, for sentence-level matching. Fragments too short to stand alone
    ("…。8", a footnote mark) are left out, except that a short lead-in joins the sentence before
    it on its line: "…的代表。其任务是:" then introduces the list after it."""
    sentences, offset = [], 0
    for line in chunk.text.split("\n"):
        joined: tuple[int, int] | None = None  # the span of the line's sentence being built
        for start, end in sentence_spans(chunk.text, offset, offset + len(line)):
            fragment = chunk.text[start:end].strip()
            if len(fragment) < min_chars:
                if joined is not None and _SHORT_LEAD_IN.fullmatch(fragment):
                    joined = (joined[0], end)
                continue
            if joined is not None:
                sentences.append(chunk.text[joined[0]:joined[1]].strip())
            joined = (start, end)
        if joined is not None:
            sentences.append(chunk.text[joined[0]:joined[1]].strip())
        offset += len(line) + 1
    return sentences


def chunk_document(document: Document, settings: ChunkerSettings) -> list[Chunk]:
    size, overlap = settings.chunk_size, settings.chunk_overlap
    units = _units(document, size)
    heading_starts = [h.start for h in document.headings]
    contents = _contents_spans(document)
    min_fill = size // 3

    groups: list[list[_Span]] = []
    current: list[_Span] = []
    for unit in units:
        if current:
            filled = current[-1].end - current[0].start
            has_body = any(not u.heading for u in current)
            # a table of contents never shares a chunk with the sections around it
            crosses_contents = unit.heading and _within(contents, current[0].start) != _within(contents, unit.start)
            starts_section = unit.heading and ((has_body and filled >= min_fill) or crosses_contents)
            too_long = unit.end - current[0].start > size
            body_units = [u for u in current if not u.heading]
            changes_kind = (unit.paragraph_start and bool(body_units)
                            and body_units[-1].reference != unit.reference)
            if starts_section or too_long or changes_kind:
                groups.append(current)
                carry: list[_Span] = []
                if too_long and not unit.heading and not unit.paragraph_start:
                    # overlap: repeat the previous chunk's last whole sentences of this paragraph
                    for previous in reversed(current):
                        if previous.heading or unit.end - previous.start > size:
                            break
                        if current[-1].end - previous.start > overlap:
                            break
                        carry.insert(0, previous)
                        if previous.paragraph_start:
                            break
                current = carry
        current.append(unit)
    if current:
        groups.append(current)

    chunks = []
    for ordinal, group in enumerate(groups):
        start, end = group[0].start, group[-1].end
        body = next((u for u in group if not u.heading), group[0])
        chunk_text = document.text[start:end]
        chunks.append(Chunk(
            chunk_id=f"{document.doc_id}#{ordinal}",
            doc_id=document.doc_id,
            ordinal=ordinal,
            text=chunk_text,
            char_start=start,
            char_end=end,
            section=_section_path(document.headings, heading_starts, body.start),
            lang=detect_lang(chunk_text, default=document.lang),
            kind=chunk_kind(chunk_text, document.lang, _within(contents, start)),
        ))
    return chunks
