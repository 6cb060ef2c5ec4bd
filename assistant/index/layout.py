"""The index folder on disk, and how a new version replaces the old one atomically.

    index/
      CURRENT               name of the live version (replaced with os.replace: atomic)
      v-20261122T101500-1a2b/   one complete version: manifest.json, chunks.sqlite, …
      v-….tmp/              a version being built (never read by searches); an interrupted build's
                            is resumed by the next build if it was built the same way (staging.py)
      cache/embeddings.sqlite   passage vectors by content hash, shared by all versions
      .lock                 held while a build runs

Readers resolve CURRENT once and keep using that version's files, so a build never disturbs
them; a build killed at any moment leaves CURRENT pointing at the previous complete version.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from assistant.atomic import write_atomic

log = logging.getLogger(__name__)

POINTER = "CURRENT"
KEEP_VERSIONS = 2


class IndexLayout:
    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    def current(self) -> Path | None:
        """The live version folder, or None if there is none (or the pointer is broken)."""
        pointer = self.root / POINTER
        try:
            name = pointer.read_text(encoding="utf-8").strip()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not name or "/" in name or name.startswith("."):
            return None
        folder = self.root / name
        return folder if folder.is_dir() else None

    def pointer_exists(self) -> bool:
        return (self.root / POINTER).exists()

    @contextlib.contextmanager
    def build_lock(self) -> Iterator[None]:
        """Only one build at a time; a second one waits for the first."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.warning("another build of %s is running; waiting for it to finish", self.root)
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def new_version(self) -> Path:
        """A fresh temporary folder for a version being built (call `publish` when complete)."""
        self.remove_unfinished()
        stamp = time.strftime("%Y%m%dT%H%M%S")
        folder = self.root / f"v-{stamp}-{secrets.token_hex(3)}.tmp"
        folder.mkdir(parents=True)
        return folder

    def publish(self, building: Path) -> Path:
        """Make a complete version live: fsync, rename, swap the pointer, prune old versions."""
        for path in building.rglob("*"):
            if path.is_file():
                with path.open("rb") as handle:
                    os.fsync(handle.fileno())
        final = building.with_name(building.name.removesuffix(".tmp"))
        os.replace(building, final)
        write_atomic(self.root / POINTER, final.name + "\n", durable=True)
        dir_fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self.prune(keep=final)
        return final

    def versions(self) -> list[Path]:
        return sorted(p for p in self.root.glob("v-*") if p.is_dir() and not p.name.endswith(".tmp"))

    def prune(self, keep: Path) -> None:
        """Keep the live version and the one before it (readers may still be using it)."""
        old = [v for v in self.versions() if v != keep]
        for folder in old[: max(0, len(old) - (KEEP_VERSIONS - 1))]:
            shutil.rmtree(folder, ignore_errors=True)

    def unfinished(self) -> list[Path]:
        """Version folders still being built or left by an interrupted build, newest first."""
        return sorted((p for p in self.root.glob("v-*.tmp") if p.is_dir()), reverse=True)

    def remove_unfinished(self) -> None:
        for folder in self.root.glob("v-*.tmp"):
            log.info("removing an unfinished build: %s", folder.name)
            shutil.rmtree(folder, ignore_errors=True)
        for stray in self.root.glob(f".{POINTER}.*"):
            stray.unlink(missing_ok=True)
