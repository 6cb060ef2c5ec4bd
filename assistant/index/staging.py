"""The version being built, and resuming it after an interruption.

A build writes into a staging folder (`v-….tmp`, see layout.py). Beside its chunk store it keeps
- `build.json`: how this version is being built (recipe, vector store, corpus manifest), and
- a journal, the table `build_journal` inside `chunks.sqlite`: one row per finished file (its
  sha256, document id, number of chunks, or why it was skipped), committed in the same SQLite
  transaction as the file's chunks, tokens and vectors. A file is therefore either wholly saved
  and journaled or neither, whether the build ends by Ctrl-C, a kill or a power cut.

The next build resumes the newest staging folder whose `build.json` matches what it is about to
build: journaled files whose content and id are unchanged are kept as they are, the rest are
dropped, and only the files not journaled are loaded, chunked and embedded.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.atomic import write_atomic
from assistant.index.layout import IndexLayout
from assistant.index.store import ChunkStore

log = logging.getLogger(__name__)

BUILD_FILE = "build.json"
_JOURNAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS build_journal (
    source TEXT PRIMARY KEY, sha256 TEXT NOT NULL, doc_id TEXT NOT NULL, chunks INTEGER NOT NULL,
    skipped TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class FinishedFile:
    sha256: str
    doc_id: str
    chunks: int
    skipped: str = ""  # why the file was not indexed; empty when it was


def _write_json(path: Path, data: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(data, ensure_ascii=False, indent=2), durable=True)


def _read_journal(store: ChunkStore) -> dict[str, FinishedFile]:
    rows = store.connection().execute("SELECT source, sha256, doc_id, chunks, skipped FROM build_journal")
    return {source: FinishedFile(sha, doc_id, chunks, skipped) for source, sha, doc_id, chunks, skipped in rows}


class StagingBuild:
    """One unfinished version folder: its chunk store (open for writing) and its journal."""

    def __init__(self, folder: Path, store: ChunkStore, finished: dict[str, FinishedFile], resumed: bool) -> None:
        self.folder = folder
        self.store = store
        self.finished = finished  # source path → what was saved for it
        self.resumed = resumed

    @classmethod
    def open(cls, layout: IndexLayout, key: Mapping[str, Any], *, from_scratch: bool = False) -> StagingBuild:
        """Resume the newest unfinished build made with the same `key`, or start a new one.

        With `from_scratch` (``assistant index --rebuild``) only a build that was itself started
        from scratch is resumed: another may hold documents copied from the live version."""
        wanted = json.loads(json.dumps(dict(key)))  # as it reads back from build.json
        for folder in layout.unfinished():
            staging = cls._resume(folder, wanted, from_scratch)
            if staging is not None:
                for other in layout.unfinished():
                    if other != folder:
                        log.info("removing an older unfinished build: %s", other.name)
                        shutil.rmtree(other, ignore_errors=True)
                return staging
        layout.remove_unfinished()
        folder = layout.new_version()
        store = ChunkStore(folder / "chunks.sqlite", create=True)
        store.connection().execute(_JOURNAL_SCHEMA)
        store.commit()
        _write_json(folder / BUILD_FILE, {"key": wanted, "from_scratch": from_scratch})
        return cls(folder, store, {}, resumed=False)

    @classmethod
    def _resume(cls, folder: Path, wanted: dict[str, Any], from_scratch: bool) -> StagingBuild | None:
        try:
            saved = json.loads((folder / BUILD_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            log.info("an unfinished build in %s cannot be resumed (%s)", folder.name, err)
            return None
        if saved.get("key") != wanted:
            log.info("an unfinished build in %s was made with other settings or files; starting afresh",
                     folder.name)
            return None
        if from_scratch and not saved.get("from_scratch"):
            log.info("not resuming the unfinished build in %s: started without --rebuild, it may hold files "
                     "copied from the live index", folder.name)
            return None
        try:
            store = ChunkStore(folder / "chunks.sqlite", writable=True)
            finished = _read_journal(store)  # also rolls back a transaction a kill left open
        except (OSError, sqlite3.Error) as err:
            log.warning("an unfinished build in %s cannot be resumed (%s); starting afresh", folder.name, err)
            return None
        return cls(folder, store, finished, resumed=True)

    def forget_changed(self, planned: Mapping[str, tuple[str, str]]) -> int:
        """Drop journaled files whose (sha256, doc_id) is no longer what `planned` (source →
        (sha256, doc_id)) says, with their chunks; returns how many were dropped."""
        db = self.store.connection()
        dropped = 0
        for source, done in list(self.finished.items()):
            if planned.get(source) == (done.sha256, done.doc_id):
                continue
            if not done.skipped:
                self.store.delete_document(done.doc_id)
            db.execute("DELETE FROM build_journal WHERE source=?", (source,))
            del self.finished[source]
            dropped += 1
        self.store.commit()
        return dropped

    def record(self, source: str, done: FinishedFile) -> None:
        """Journal a finished file. It is saved by the store's next commit, in the same
        transaction as its chunks: call this right after adding them."""
        self.store.connection().execute(
            "INSERT OR REPLACE INTO build_journal VALUES (?, ?, ?, ?, ?)",
            (source, done.sha256, done.doc_id, done.chunks, done.skipped))
        self.finished[source] = done

    def abandon(self) -> int:
        """After an interruption: roll back what is not committed, close the store, and return
        how many files are saved (what the next build will not redo)."""
        db = self.store.connection()
        db.rollback()
        saved = int(db.execute("SELECT COUNT(*) FROM build_journal").fetchone()[0])
        self.store.close()
        return saved

    def finish(self) -> None:
        """Remove the journal and build.json: a complete version needs neither."""
        db = self.store.connection()
        db.execute("DROP TABLE IF EXISTS build_journal")
        self.store.commit()
        (self.folder / BUILD_FILE).unlink(missing_ok=True)

