"""Building the index: incremental, streaming, atomic.

Only files whose content changed are loaded and chunked again; unchanged files' chunks,
tokens and vectors are copied from the live version, and vectors of new chunks come from
the embedding cache when the same text was embedded before (so an interrupted build resumes
where it stopped). Everything is written into a new version folder that becomes live only
once complete.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from assistant.chunking import ChunkerSettings, chunk_document, chunk_sentences
from assistant.config import Settings
from assistant.embeddings import Embedder, EmbeddingCache, make_embedder
from assistant.glossary import extract_pairs
from assistant.index.bm25 import BM25Index
from assistant.index.layout import IndexLayout
from assistant.index.manifest import BuildRecipe, IndexManifest, software_versions
from assistant.index.qdrant import QdrantVectorIndex
from assistant.index.qdrant_bm25 import QdrantBM25Index, lexical_collection
from assistant.index.store import ChunkRecord, ChunkStore
from assistant.index.vectors import AnnParams, VectorIndex, choose_kind
from assistant.ingest import (
    CLEANER_VERSION,
    IngestError,
    default_doc_id,
    discover,
    file_sha256,
    is_supported,
    load_document,
    read_manifest,
)
from assistant.ingest.corpus import MANIFEST_NAME
from assistant.lexical import TOKENIZER_VERSION, tokenize
from assistant.types import Chunk, Document, DocumentInfo

log = logging.getLogger(__name__)

EMBED_FORMAT = "section+text/1"
SENTENCE_FORMAT = "sentences/1"
WAVE_CHUNKS = 512  # chunks held in memory before they are embedded and written


def embedding_text(chunk: Chunk) -> str:
    """What the embedder sees for a chunk: its section path, then its text."""
    return f"{chunk.section}\n{chunk.text}" if chunk.section else chunk.text


def vector_store_spec(settings: Settings) -> dict[str, str]:
    """Where this index's vectors live, as recorded in its manifest (never the API key)."""
    if settings.vector_store == "qdrant":
        lexical = {"lexical": "qdrant"} if settings.lexical_store == "qdrant" else {}
        return {"backend": "qdrant", "url": settings.qdrant_url, **lexical}
    return {"backend": "faiss"}


def _store_key(spec: dict[str, str]) -> str:
    return (spec["backend"] + (f" at {spec['url']}" if spec.get("url") else "")
            + (" with BM25 in Qdrant" if spec.get("lexical") == "qdrant" else ""))


def recipe_for(settings: Settings, embedder: Embedder) -> BuildRecipe:
    return BuildRecipe(
        embedder_id=embedder.id,
        dim=embedder.dim,
        chunker=ChunkerSettings(settings.chunk_size, settings.chunk_overlap).as_dict(),
        cleaner=CLEANER_VERSION,
        tokenizer=TOKENIZER_VERSION,
        embed_format=EMBED_FORMAT + (f"+{SENTENCE_FORMAT}" if settings.sentence_vectors else ""),
    )


@dataclass
class BuildReport:
    folder: Path | None
    up_to_date: bool = False
    documents: int = 0
    chunks: int = 0
    embedded: int = 0  # chunks whose vectors were computed now
    from_cache: int = 0  # chunks whose vectors came from the embedding cache
    reused_documents: int = 0
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    reason: str = ""
    stage_seconds: dict[str, float] = field(default_factory=dict)

    def timed(self, stage: str, started: float) -> None:
        self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + time.perf_counter() - started

    def summary(self) -> str:
        if self.up_to_date:
            return f"Index is up to date: {self.documents} documents, {self.chunks} chunks ({self.folder})."
        skipped = f", {len(self.skipped)} files skipped" if self.skipped else ""
        return (
            f"Indexed {self.documents} documents into {self.chunks} chunks in {self.seconds:.1f} s "
            f"({self.embedded} embedded, {self.from_cache} from cache, "
            f"{self.reused_documents} documents unchanged{skipped}) → {self.folder}"
        )


@dataclass
class _Pending:
    document: Document
    chunks: list[Chunk]
    tokens: list[list[str]]
    sentences: list[list[str]]
    pairs: list[tuple[tuple[str, ...], tuple[str, ...]]]


def _corpus_manifest_hash(corpus_dir: Path) -> str:
    path = corpus_dir / MANIFEST_NAME
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def _previous(layout: IndexLayout) -> tuple[Path, IndexManifest] | None:
    folder = layout.current()
    if folder is None:
        return None
    try:
        return folder, IndexManifest.read(folder)
    except (OSError, ValueError, TypeError, KeyError) as err:
        log.warning("the live index %s has an unreadable manifest (%s); rebuilding from scratch",
                    folder.name, err)
        return None


def _embed_all(texts: list[str], embedder: Embedder, cache: EmbeddingCache,
               batch_size: int, progress: bool) -> tuple[dict[str, np.ndarray], int]:
    """Vectors of `texts` by cache key, computing only those the cache lacks; and how many were."""
    cached = cache.get_many(embedder.id, texts)
    missing = list(dict.fromkeys(t for t in texts if EmbeddingCache.key(t) not in cached))
    # longest first: batches of similar length waste less padding, and the ETA settles early
    missing.sort(key=len, reverse=True)
    with tqdm(total=len(missing), desc="embedding", unit="text", disable=not progress or not missing,
              leave=False) as bar:
        for i in range(0, len(missing), batch_size):
            batch = missing[i : i + batch_size]
            vectors = embedder.embed_passages(batch)
            cache.put_many(embedder.id, batch, vectors)
            for text, vector in zip(batch, vectors, strict=True):
                cached[EmbeddingCache.key(text)] = vector
            bar.update(len(batch))
    return cached, len(missing)


def build_index(settings: Settings, embedder: Embedder | None = None, *, rebuild: bool = False,
                progress: bool = True,
                on_file: Callable[[str], None] | None = None) -> BuildReport:
    """Bring the index in `settings.index_dir` up to date with `settings.corpus_dir`."""
    build_started = time.perf_counter()
    layout = IndexLayout(settings.index_dir)
    corpus_dir = settings.corpus_dir
    files = discover(corpus_dir)
    infos = read_manifest(corpus_dir)
    manifest_hash = _corpus_manifest_hash(corpus_dir)

    with layout.build_lock():
        embedder = embedder or make_embedder(settings)
        recipe = recipe_for(settings, embedder)
        previous = None if rebuild else _previous(layout)
        reason = "first build" if previous is None else ""
        if previous is not None:
            difference = recipe.difference(previous[1].recipe)
            if difference:
                reason = f"the index was built with {difference}; rebuilding it"
                log.warning(reason)
                previous = None
        skipped: dict[str, str] = {}
        hashes: dict[str, str] = {}
        for path in files:
            rel = path.relative_to(corpus_dir).as_posix()
            if not is_supported(path):
                skipped[rel] = str(IngestError(path, f"unsupported format '{path.suffix or '(none)'}'",
                                               "convert it to .txt .md .pdf .docx or .html"))
                log.warning("skipped %s", skipped[rel])
                continue
            hashes[rel] = file_sha256(path)

        store_spec = vector_store_spec(settings)
        if previous is not None and _store_key(previous[1].vector_store) != _store_key(store_spec):
            reason = f"the index's vectors are in {_store_key(previous[1].vector_store)}; moving them to " \
                     f"{_store_key(store_spec)}"
            log.warning(reason)
            previous = None
        if previous is not None:
            old = previous[1]
            same_files = {k: v["sha256"] for k, v in old.files.items()} == hashes
            if same_files and old.corpus_manifest_sha256 == manifest_hash and old.skipped == skipped:
                return BuildReport(folder=previous[0], up_to_date=True, documents=old.counts["documents"],
                                   chunks=old.counts["chunks"], skipped=skipped,
                                   seconds=time.perf_counter() - build_started)

        folder = layout.new_version()
        store = ChunkStore(folder / "chunks.sqlite", create=True)
        old_store = ChunkStore(previous[0] / "chunks.sqlite") if previous else None
        old_files = previous[1].files if previous else {}
        cache = EmbeddingCache(layout.cache_dir / "embeddings.sqlite")
        report = BuildReport(folder=None, skipped=skipped, reason=reason)
        file_records: dict[str, dict[str, object]] = {}
        used_ids: set[str] = set()
        next_row = 0
        pending: list[_Pending] = []

        def flush() -> None:
            nonlocal next_row
            if not pending:
                return
            started = time.perf_counter()
            chunk_texts = [embedding_text(c) for p in pending for c in p.chunks]
            sentence_texts = [s for p in pending for sentences in p.sentences for s in sentences]
            vectors, embedded = _embed_all(chunk_texts + sentence_texts, embedder, cache,
                                           settings.embed_batch_size, progress)
            report.timed("embed", started)
            report.embedded += embedded
            report.from_cache += len(set(chunk_texts + sentence_texts)) - embedded
            started = time.perf_counter()
            empty = np.zeros((0, recipe.dim), dtype=np.float32)
            for item in pending:
                records = [
                    ChunkRecord(
                        chunk=chunk,
                        tokens=tokens,
                        vector=vectors[EmbeddingCache.key(embedding_text(chunk))],
                        sentence_vectors=(np.vstack([vectors[EmbeddingCache.key(t)] for t in sentences])
                                          if sentences else empty),
                    )
                    for chunk, tokens, sentences in zip(item.chunks, item.tokens, item.sentences, strict=True)
                ]
                next_row = store.add_document(item.document, records, item.pairs, next_row)
            store.commit()
            report.timed("write", started)
            pending.clear()

        chunker = ChunkerSettings(settings.chunk_size, settings.chunk_overlap)
        for rel, sha in tqdm(hashes.items(), desc="documents", unit="file", disable=not progress):
            path = corpus_dir / rel
            manifest_info = infos.get(rel) or infos.get(path.name)
            doc_id = manifest_info.doc_id if manifest_info else default_doc_id(Path(rel))
            if doc_id in used_ids:
                doc_id = f"{doc_id}-{path.suffix.lstrip('.').lower()}"
                if doc_id in used_ids:
                    skipped[rel] = f"{path.name}: another file already has the id '{doc_id}' — rename one"
                    log.warning(skipped[rel])
                    continue
            used_ids.add(doc_id)
            info = replace(manifest_info, doc_id=doc_id) if manifest_info else DocumentInfo(doc_id=doc_id)
            if on_file:
                on_file(rel)

            previous_record = old_files.get(rel)
            if (old_store is not None and previous_record and previous_record["sha256"] == sha
                    and previous_record["doc_id"] == doc_id):
                old_document = old_store.document(doc_id)
                if old_document is not None:
                    stored = old_store.chunks_of(doc_id)
                    if manifest_info:
                        old_document = replace(old_document, info=info)
                    records = [ChunkRecord(s.chunk, s.tokens, s.vector, s.sentence_vectors) for s in stored]
                    next_row = store.add_document(old_document, records, old_store.pairs_of(doc_id), next_row)
                    file_records[rel] = {"sha256": sha, "doc_id": doc_id, "chunks": len(stored)}
                    report.reused_documents += 1
                    continue
            started = time.perf_counter()
            try:
                document = load_document(path, Path(rel), info, sha256=sha)
            except IngestError as err:
                skipped[rel] = str(err)
                log.warning("skipped %s", err)
                continue
            finally:
                report.timed("load+clean", started)
            started = time.perf_counter()
            chunks = chunk_document(document, chunker)
            report.timed("chunk", started)
            started = time.perf_counter()
            tokens = [tokenize(c.text) for c in chunks]
            report.timed("tokenize", started)
            sentences = [chunk_sentences(c) if settings.sentence_vectors else [] for c in chunks]
            pairs = [(t.en, t.zh) for t in extract_pairs(document.text)]
            pending.append(_Pending(document, chunks, tokens, sentences, pairs))
            file_records[rel] = {"sha256": sha, "doc_id": doc_id, "chunks": len(chunks)}
            if sum(len(p.chunks) for p in pending) >= WAVE_CHUNKS:
                flush()
        flush()
        store.commit()

        n_chunks = store.count()
        kind = choose_kind(settings.faiss_index, n_chunks, settings.approximate_above)
        started = time.perf_counter()
        if store_spec["backend"] == "qdrant":
            kind = "qdrant"
            store_spec["collection"] = f"{settings.qdrant_collection}-{folder.name.removesuffix('.tmp')}"
            if settings.qdrant_url:  # a cluster: the version's collection exists before it goes live
                QdrantVectorIndex.create(store.vectors(recipe.dim), store_spec["collection"], settings.qdrant_url,
                                         settings.qdrant_api_key)
        else:
            VectorIndex.build(store.vectors(recipe.dim), kind, AnnParams.from_settings(settings)).save(
                folder / "dense.faiss")
        report.timed("vectors", started)
        started = time.perf_counter()
        bm25 = BM25Index.build(store.token_lists())
        bm25.save(folder)
        if store_spec.get("lexical") == "qdrant" and settings.qdrant_url:  # like the vectors' collection
            QdrantBM25Index.create(bm25, lexical_collection(store_spec["collection"]), settings.qdrant_url,
                                   settings.qdrant_api_key)
        report.timed("bm25", started)
        store.close()
        if old_store is not None:
            old_store.close()
        cache.close()

        report.documents = len(file_records)
        report.chunks = n_chunks
        report.seconds = time.perf_counter() - build_started
        IndexManifest(
            recipe=recipe,
            files=file_records,
            skipped=skipped,
            corpus_manifest_sha256=manifest_hash,
            faiss_kind=kind,
            vector_store=store_spec,
            counts={"documents": report.documents, "chunks": n_chunks},
            built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            build_seconds=round(report.seconds, 3),
            versions=software_versions(),
        ).write(folder)
        report.folder = layout.publish(folder)
        return report
