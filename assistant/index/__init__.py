"""The on-disk index: building it (`build_index`), opening it for search (`SearchIndex`),
and checking it (`check_index`)."""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.config import Settings
from assistant.embeddings import Embedder
from assistant.index.bm25 import BM25Index, LexicalIndex
from assistant.index.builder import BuildInterrupted, BuildReport, build_index, recipe_for
from assistant.index.english_view import EnglishView
from assistant.index.layout import IndexLayout
from assistant.index.manifest import IndexManifest
from assistant.index.qdrant import QdrantUnavailable, QdrantVectorIndex
from assistant.index.qdrant_bm25 import QdrantBM25Index, lexical_collection
from assistant.index.store import ChunkStore, StoredChunk
from assistant.index.vectors import AnnParams, DenseIndex, VectorIndex
from assistant.types import DocumentInfo

__all__ = [
    "BuildInterrupted",
    "BuildReport",
    "DocumentSummary",
    "IndexCorruptError",
    "IndexNotFoundError",
    "SearchIndex",
    "build_index",
    "check_index",
    "ensure_index",
]

log = logging.getLogger(__name__)


class IndexNotFoundError(Exception):
    """There is no index yet."""


class IndexCorruptError(Exception):
    """The index exists but cannot be read; rebuilding it fixes this."""


@dataclass(frozen=True)
class DocumentSummary:
    info: DocumentInfo
    source: str
    chunks: int


def _qdrant_api_key(settings: Settings | None) -> str:
    return settings.qdrant_api_key if settings else os.environ.get("ASSISTANT_QDRANT_API_KEY", "")


def _open_vectors(folder: Path, manifest: IndexManifest, store: ChunkStore,
                  settings: Settings | None) -> DenseIndex:
    spec = manifest.vector_store
    if spec.get("backend") == "qdrant":
        url = spec.get("url", "")
        return QdrantVectorIndex.open(spec["collection"], url, _qdrant_api_key(settings),
                                      manifest.recipe.dim, manifest.counts["chunks"],
                                      None if url else store.vectors(manifest.recipe.dim))
    params = AnnParams.from_settings(settings) if settings else AnnParams()
    return VectorIndex.load(folder / "dense.faiss", manifest.faiss_kind, params)


def _open_lexical(folder: Path, manifest: IndexManifest, settings: Settings | None) -> LexicalIndex:
    spec = manifest.vector_store
    if spec.get("lexical") == "qdrant":
        return QdrantBM25Index.open(folder, lexical_collection(spec["collection"]), spec.get("url", ""),
                                    _qdrant_api_key(settings), manifest.counts["chunks"])
    return BM25Index.load(folder)


class SearchIndex:
    """One opened index version: vectors, BM25 and the chunk store, read-only and thread-safe."""

    def __init__(self, folder: Path, manifest: IndexManifest, store: ChunkStore,
                 vectors: DenseIndex, bm25: LexicalIndex) -> None:
        self.folder = folder
        self.manifest = manifest
        self.store = store
        self.vectors = vectors
        self.bm25 = bm25
        row_docs = store.row_values("doc_id")
        # the passages read in English (Chinese words as their dictionary glosses), for English questions
        self.english_view = EnglishView(folder, store.iter_tokens, len(row_docs))
        self.doc_ids = sorted(set(row_docs))
        position = {doc_id: i for i, doc_id in enumerate(self.doc_ids)}
        self.row_doc = np.asarray([position[d] for d in row_docs], dtype=np.int32)
        self.documents = {
            info.doc_id: DocumentSummary(info, source, n) for info, source, _, n in store.documents()
        }

    @classmethod
    def open(cls, root: Path, settings: Settings | None = None) -> SearchIndex:
        """Open the live version; `settings` give the search parameters of approximate indexes and
        the Qdrant API key (without them: the defaults and $ASSISTANT_QDRANT_API_KEY)."""
        layout = IndexLayout(root)
        folder = layout.current()
        if folder is None:
            if layout.pointer_exists():
                raise IndexCorruptError(
                    f"the index in {root} points to a missing version: run `assistant index --rebuild`")
            raise IndexNotFoundError(f"there is no index in {root} yet: run `assistant index`")
        try:
            manifest = IndexManifest.read(folder)
            store = ChunkStore(folder / "chunks.sqlite")
            vectors = _open_vectors(folder, manifest, store, settings)
            bm25 = _open_lexical(folder, manifest, settings)
            index = cls(folder, manifest, store, vectors, bm25)
        except QdrantUnavailable as err:
            raise IndexCorruptError(f"the index's vectors cannot be reached ({err}): check that Qdrant is "
                                    "running and qdrant_url / ASSISTANT_QDRANT_API_KEY are right") from err
        except (OSError, ValueError, KeyError, TypeError, RuntimeError, sqlite3.Error) as err:
            raise IndexCorruptError(
                f"the index in {folder} cannot be read ({type(err).__name__}: {err}): "
                "run `assistant index --rebuild`") from err
        n = len(index.row_doc)
        if not (vectors.size == n == bm25.size == manifest.counts["chunks"]):
            raise IndexCorruptError(
                f"the index in {folder} is inconsistent ({vectors.size} vectors, {n} chunks, "
                f"{bm25.size} BM25 rows): run `assistant index --rebuild`")
        return index

    @property
    def size(self) -> int:
        return len(self.row_doc)

    def rows_of(self, doc_ids: Iterable[str] | None) -> np.ndarray | None:
        """Chunk rows belonging to `doc_ids` (None = no filter)."""
        if doc_ids is None:
            return None
        wanted = [self.doc_ids.index(d) for d in set(doc_ids) if d in self.doc_ids]
        return np.flatnonzero(np.isin(self.row_doc, wanted)).astype(np.int64)

    def chunks_at(self, rows: Iterable[int]) -> dict[int, StoredChunk]:
        return self.store.chunks_at(list(rows))

    def close(self) -> None:
        self.store.close()


def ensure_index(settings: Settings, embedder: Embedder, *, progress: bool = True) -> SearchIndex:
    """Open the index, building it first if there is none, it is unreadable, or it was built
    with another embedder or chunker than the settings ask for."""
    try:
        index = SearchIndex.open(settings.index_dir, settings)
    except IndexNotFoundError:
        log.warning("No index in %s yet: building it from %s (this happens once).",
                    settings.index_dir, settings.corpus_dir)
        build_index(settings, embedder, progress=progress)
        return SearchIndex.open(settings.index_dir, settings)
    except IndexCorruptError as err:
        log.warning("%s — rebuilding it now.", err)
        build_index(settings, embedder, rebuild=True, progress=progress)
        return SearchIndex.open(settings.index_dir, settings)
    if recipe_for(settings, embedder).difference(index.manifest.recipe):
        index.close()
        build_index(settings, embedder, progress=progress)  # it says what differs
        return SearchIndex.open(settings.index_dir, settings)
    return index


def check_index(root: Path) -> list[str]:
    """Problems found in the live index (empty if healthy): counts, offsets, dimensions."""
    try:
        index = SearchIndex.open(root)
    except (IndexNotFoundError, IndexCorruptError) as err:
        return [str(err)]
    problems = []
    dim = index.manifest.recipe.dim
    if index.vectors.dim != dim:
        problems.append(f"FAISS dimension {index.vectors.dim} differs from the manifest's {dim}")
    texts: dict[str, str] = {}
    for stored in index.store.all_chunks():
        chunk = stored.chunk
        if chunk.doc_id not in texts:
            document = index.store.document(chunk.doc_id)
            texts[chunk.doc_id] = document.text if document else ""
        if texts[chunk.doc_id][chunk.char_start:chunk.char_end] != chunk.text:
            problems.append(f"chunk {chunk.chunk_id}: offsets do not match the document text")
        if stored.vector.shape != (dim,):
            problems.append(f"chunk {chunk.chunk_id}: vector has shape {stored.vector.shape}")
    for source, record in index.manifest.files.items():
        if record["doc_id"] not in index.documents:
            problems.append(f"{source}: listed in the manifest but not in the chunk store")
    index.close()
    return problems
