"""Turning a report file into a cleaned `Document`: load (per format) → clean → find headings."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from assistant.ingest import structure
from assistant.ingest.cleaning import CLEANER_VERSION, Block, clean
from assistant.ingest.corpus import default_doc_id, discover, is_supported, iter_corpus_files, read_manifest
from assistant.ingest.loaders import SUPPORTED_SUFFIXES, IngestError, load_raw_text
from assistant.language import detect_lang
from assistant.types import Document, DocumentInfo, Heading

__all__ = [
    "CLEANER_VERSION",
    "SUPPORTED_SUFFIXES",
    "IngestError",
    "default_doc_id",
    "discover",
    "file_sha256",
    "is_supported",
    "iter_corpus_files",
    "load_document",
    "read_manifest",
]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def assemble(blocks: list[Block]) -> tuple[str, tuple[Heading, ...]]:
    """Join blocks into the cleaned text (one block per line) and locate its headings."""
    parts: list[str] = []
    headings: list[Heading] = []
    offset = 0
    for i, block in enumerate(blocks):
        level = block.level
        if level is None:
            level = structure.numbered_heading_level(block.text)
        if level is None:
            following = blocks[i + 1].text if i + 1 < len(blocks) else None
            if structure.is_title_line(block.text, following):
                level = structure.GENERIC_LEVEL
        if level is not None:
            headings.append(Heading(offset, offset + len(block.text), level, block.text, block.byline))
        parts.append(block.text)
        offset += len(block.text) + 1
    return "\n".join(parts), tuple(headings)


def load_document(path: Path, rel_path: Path, info: DocumentInfo | None = None,
                  sha256: str | None = None) -> Document:
    """Load, clean and structure one file. Raises IngestError with a user-facing message."""
    raw = load_raw_text(path)
    try:
        text, headings = assemble(clean(raw))
    except Exception as err:  # cleaning one odd file must not stop the others
        raise IngestError(path, f"its text could not be cleaned ({type(err).__name__}: {str(err)[:200]})",
                          "check the file's content and re-index") from err
    if not text.strip():
        raise IngestError(path, "nothing is left after removing extraction noise",
                          "check that the file holds the report's text")
    lang = detect_lang(text[:20000])
    if info is None:
        info = DocumentInfo(doc_id=default_doc_id(rel_path))
    if not (info.title_zh or info.title_en):
        guess = headings[0].title if headings else text.split("\n", 1)[0][:80]
        info = replace(info, title_en=guess) if lang == "en" else replace(info, title_zh=guess)
    if not info.language:
        info = replace(info, language=lang)
    return Document(
        info=info,
        source=rel_path.as_posix(),
        sha256=sha256 or file_sha256(path),
        text=text,
        lang=lang,
        headings=headings,
    )
