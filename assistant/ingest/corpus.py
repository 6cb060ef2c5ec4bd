"""The corpus folder: which files are reports, and what `corpus/manifest.toml` says about them."""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

from assistant.ingest.loaders import SUPPORTED_SUFFIXES
from assistant.types import DocumentInfo

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.toml"
_IGNORED_NAMES = {MANIFEST_NAME, "readme.md", "readme.txt", ".ds_store"}


def discover(corpus_dir: Path) -> list[Path]:
    """Every file under `corpus_dir` that is meant to be a report, sorted; hidden files skipped.

    Files of unsupported formats are included so that the index can say why it skipped them.
    """
    return list(iter_corpus_files(corpus_dir))


def iter_corpus_files(corpus_dir: Path) -> Iterator[Path]:
    """The files `discover` lists, in the same order, found one folder at a time."""
    if not corpus_dir.is_dir():
        raise FileNotFoundError(
            f"corpus folder {corpus_dir} does not exist: create it and put the reports in it"
        )
    yield from _walk(corpus_dir)


def _walk(folder: Path) -> Iterator[Path]:
    # sorting each folder's entries by name, folders in place, gives sorted(rglob("*"))'s order
    with os.scandir(folder) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        if entry.is_dir() and not entry.is_symlink():
            yield from _walk(path)
        elif entry.is_file() and entry.name.lower() not in _IGNORED_NAMES \
                and not entry.name.endswith(("~", ".tmp", ".part")):
            yield path


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def read_manifest(corpus_dir: Path) -> dict[str, DocumentInfo]:
    """Manifest entries keyed by file name (relative to the corpus folder)."""
    path = corpus_dir / MANIFEST_NAME
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        log.error("%s is not valid TOML (%s): fix it; documents get default titles meanwhile", path, err)
        return {}
    entries: dict[str, DocumentInfo] = {}
    for entry in data.get("document", []):
        file_name = entry.get("file")
        doc_id = entry.get("id")
        if not file_name or not doc_id:
            log.error("%s: an entry lacks 'file' or 'id'; skipping it", path)
            continue
        publishers = entry.get("publishers", [])
        aliases = entry.get("aliases", [])
        entries[str(file_name)] = DocumentInfo(
            doc_id=str(doc_id),
            title_zh=entry.get("title_zh", ""),
            title_en=entry.get("title_en", ""),
            publishers=tuple(publishers if isinstance(publishers, list) else [publishers]),
            date=str(entry.get("date", "")),
            language=entry.get("language", ""),
            notes=entry.get("notes", ""),
            aliases=tuple(aliases if isinstance(aliases, list) else [aliases]),
        )
    return entries


def default_doc_id(rel_path: Path) -> str:
    """A readable id for a file the manifest does not list: its path without suffix, slugged."""
    stem = rel_path.with_suffix("").as_posix()
    slug = re.sub(r"\W+", "-", stem.lower()).strip("-")  # \w keeps Chinese
    return slug or "document"
