"""Building the index: incremental, streaming, resumable, atomic.

A discovery pass lists the files with their hashes (for the total and the up-to-date check);
then files stream through one at a time — load, clean, chunk, tokenize — and are embedded and
saved in waves of `index_wave_chunks` chunks, so memory does not grow with the corpus until the
final FAISS and BM25 indexes are built from the chunk store. Only files whose content changed
are loaded again; unchanged files' chunks, tokens and vectors are copied from the live version,
and vectors of new chunks come from the embedding cache when the same text was embedded before.
Everything is written into a staging version folder that becomes live only once complete; its
journal (staging.py) lets an interrupted build resume without redoing finished files.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from assistant.chunking import ChunkerSettings, chunk_document, chunk_sentences
from assistant.config import Settings
from assistant.embeddings import Embedder, EmbeddingCache, make_embedder
from assistant.glossary import extract_pairs
from assistant.index.bm25 import BM25Index
from assistant.index.english_view import build as build_english_view
from assistant.index.english_view import save as save_english_view
from assistant.index.layout import IndexLayout
from assistant.index.manifest import BuildRecipe, IndexManifest, software_versions
from assistant.index.progress import BuildProgress
from assistant.index.qdrant import QdrantVectorIndex
from assistant.index.qdrant_bm25 import QdrantBM25Index, lexical_collection
from assistant.index.staging import FinishedFile, StagingBuild
from assistant.index.store import ChunkRecord, ChunkStore
from assistant.index.vectors import AnnParams, VectorIndex, choose_kind
from assistant.ingest import (
    CLEANER_VERSION,
    IngestError,
    default_doc_id,
    file_sha256,
    is_supported,
    iter_corpus_files,
    load_document,
    read_manifest,
)
from assistant.ingest.corpus import MANIFEST_NAME
from assistant.lexical import TOKENIZER_VERSION, tokenize
from assistant.types import Chunk, Document, DocumentInfo

log = logging.getLogger(__name__)

EMBED_FORMAT = "section+text/1"
SENTENCE_FORMAT = "sentences/1"
COMMIT_EVERY_SECONDS = 5.0  # files copied unchanged are saved at least this often


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
    reused_documents: int = 0  # unchanged files copied from the live version
    resumed_files: int = 0  # files an interrupted build had finished (indexed or skipped), kept as saved
    loaded_files: int = 0  # files loaded, cleaned and chunked in this run
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
        resumed = f", {self.resumed_files} files resumed from the interrupted build" if self.resumed_files else ""
        return (
            f"Indexed {self.documents} documents into {self.chunks} chunks in {self.seconds:.1f} s "
            f"({self.embedded} embedded, {self.from_cache} from cache, "
            f"{self.reused_documents} documents unchanged{resumed}{skipped}) → {self.folder}"
        )


class BuildInterrupted(KeyboardInterrupt):
    """A build stopped by Ctrl-C; the files it finished are saved and the next build resumes."""

    def __init__(self, saved: int, total: int, folder: Path) -> None:
        super().__init__(
            f"interrupted: {saved:,} of {total:,} files are indexed and saved in {folder}; "
            "run the same `assistant index` command again to resume (the live index is unchanged)")
        self.saved = saved
        self.total = total
        self.folder = folder


@dataclass(frozen=True)
class _PlannedFile:
    source: str  # path relative to the corpus folder
    sha256: str
    info: DocumentInfo  # with the document id this build gives it
    listed: bool  # whether corpus/manifest.toml describes it


@dataclass
class _Pending:
    source: str
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


def _plan(corpus_dir: Path, infos: dict[str, DocumentInfo], skipped: dict[str, str],
          known_ids: dict[str, str] | None = None) -> list[_PlannedFile]:
    """The discovery pass: every report file in order, with its hash and document id (unsupported
    files and id clashes go to `skipped`). Only paths, hashes and ids are kept, not contents.

    Ids never move: a file the corpus manifest lists has its id; a file the last index knew keeps
    the id it had; a new file whose default id (its name) is taken gets its suffix ("002-txt") —
    it never takes a listed report's id."""
    known_ids = known_ids or {}
    found: list[tuple[Path, str, DocumentInfo | None]] = []
    for path in iter_corpus_files(corpus_dir):
        rel = path.relative_to(corpus_dir).as_posix()
        if not is_supported(path):
            skipped[rel] = str(IngestError(path, f"unsupported format '{path.suffix or '(none)'}'",
                                           "convert it to .txt .md .pdf .docx or .html"))
            log.warning("skipped %s", skipped[rel])
            continue
        found.append((path, rel, infos.get(rel) or infos.get(path.name)))
    listed = {info.doc_id for _, _, info in found if info is not None}
    reserved = listed | {known_ids[rel] for _, rel, info in found if info is None and rel in known_ids}
    planned: list[_PlannedFile] = []
    used_ids: set[str] = set()
    for path, rel, manifest_info in found:
        if manifest_info is not None:
            doc_id = manifest_info.doc_id
        elif rel in known_ids and known_ids[rel] not in listed:
            doc_id = known_ids[rel]
        else:
            doc_id = default_doc_id(Path(rel))
            if doc_id in reserved:
                doc_id = f"{doc_id}-{path.suffix.lstrip('.').lower()}"
        if doc_id in used_ids:
            doc_id = f"{doc_id}-{path.suffix.lstrip('.').lower()}"
            if doc_id in used_ids or doc_id in reserved:
                skipped[rel] = f"{path.name}: another file already has the id '{doc_id}' — rename one"
                log.warning(skipped[rel])
                continue
        used_ids.add(doc_id)
        info = replace(manifest_info, doc_id=doc_id) if manifest_info else DocumentInfo(doc_id=doc_id)
        planned.append(_PlannedFile(rel, file_sha256(path), info, manifest_info is not None))
    return planned


def _staging_key(recipe: BuildRecipe, store_spec: dict[str, str], manifest_hash: str) -> dict[str, object]:
    """What must be the same for an interrupted build's saved files to be reused as they are."""
    return {"recipe": asdict(recipe), "vector_store": _store_key(store_spec),
            "corpus_manifest_sha256": manifest_hash}


def build_index(settings: Settings, embedder: Embedder | None = None, *, rebuild: bool = False,
                progress: bool = True,
                on_file: Callable[[str], None] | None = None) -> BuildReport:
    """Bring the index in `settings.index_dir` up to date with `settings.corpus_dir`.

    Files stream through one at a time, in waves of `settings.index_wave_chunks` chunks that are
    embedded and saved together; each saved file is journaled, so that after an interruption
    (Ctrl-C raises `BuildInterrupted`; a kill leaves the same state) the next call resumes.
    `on_file` is called with each file's path before it is indexed in this run."""
    build_started = time.perf_counter()
    layout = IndexLayout(settings.index_dir)
    corpus_dir = settings.corpus_dir
    infos = read_manifest(corpus_dir)
    manifest_hash = _corpus_manifest_hash(corpus_dir)

    with layout.build_lock():
        embedder = embedder or make_embedder(settings)
        recipe = recipe_for(settings, embedder)
        previous = None if rebuild else _previous(layout)
        known = previous[1] if previous is not None else None  # its ids stay, whatever is rebuilt
        reason = "first build" if previous is None else ""
        if previous is not None:
            difference = recipe.difference(previous[1].recipe)
            if difference:
                reason = f"the index was built with {difference}; rebuilding it"
                log.warning(reason)
                previous = None
        started = time.perf_counter()
        skipped: dict[str, str] = {}
        known_ids = {rel: str(record["doc_id"]) for rel, record in known.files.items()} if known else {}
        plan = _plan(corpus_dir, infos, skipped, known_ids)
        log.info("found %d files to index in %s (%.1f s)", len(plan), corpus_dir, time.perf_counter() - started)

        store_spec = vector_store_spec(settings)
        if previous is not None and _store_key(previous[1].vector_store) != _store_key(store_spec):
            reason = f"the index's vectors are in {_store_key(previous[1].vector_store)}; moving them to " \
                     f"{_store_key(store_spec)}"
            log.warning(reason)
            previous = None
        if previous is not None:
            old = previous[1]
            same_files = {k: v["sha256"] for k, v in old.files.items()} == {p.source: p.sha256 for p in plan}
            if same_files and old.corpus_manifest_sha256 == manifest_hash and old.skipped == skipped:
                return BuildReport(folder=previous[0], up_to_date=True, documents=old.counts["documents"],
                                   chunks=old.counts["chunks"], skipped=skipped,
                                   seconds=time.perf_counter() - build_started)

        staging = StagingBuild.open(layout, _staging_key(recipe, store_spec, manifest_hash), from_scratch=rebuild)
        old_store = ChunkStore(previous[0] / "chunks.sqlite") if previous else None
        cache = EmbeddingCache(layout.cache_dir / "embeddings.sqlite")
        try:
            report, file_records, kind = _fill(settings, embedder, recipe, plan, skipped, staging, old_store,
                                               previous[1].files if previous else {}, cache, store_spec,
                                               progress, on_file)
        except KeyboardInterrupt:
            saved = staging.abandon()
            raise BuildInterrupted(saved, len(plan), staging.folder) from None
        except BaseException:
            staging.abandon()  # what is saved stays: the next build resumes after, e.g., an embedder error
            raise
        finally:
            if old_store is not None:
                old_store.close()
            cache.close()
        folder = staging.folder
        report.reason = reason
        report.documents = len(file_records)
        report.seconds = time.perf_counter() - build_started
        IndexManifest(
            recipe=recipe,
            files=file_records,
            skipped=skipped,
            corpus_manifest_sha256=manifest_hash,
            faiss_kind=kind,
            vector_store=store_spec,
            counts={"documents": report.documents, "chunks": report.chunks},
            built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            build_seconds=round(report.seconds, 3),
            versions=software_versions(),
        ).write(folder)
        staging.finish()
        staging.store.close()
        report.folder = layout.publish(folder)
        return report


def _fill(settings: Settings, embedder: Embedder, recipe: BuildRecipe, plan: list[_PlannedFile],
          skipped: dict[str, str], staging: StagingBuild, old_store: ChunkStore | None,
          old_files: dict[str, dict[str, object]], cache: EmbeddingCache, store_spec: dict[str, str],
          progress: bool, on_file: Callable[[str], None] | None,
          ) -> tuple[BuildReport, dict[str, dict[str, object]], str]:
    """Index every planned file not yet saved in `staging`, then build its vector and BM25 indexes.
    Returns the report, the manifest's file records and the vector index kind."""
    store = staging.store
    folder = staging.folder
    report = BuildReport(folder=None, skipped=skipped)
    dropped = staging.forget_changed({p.source: (p.sha256, p.info.doc_id) for p in plan})
    file_records: dict[str, dict[str, object]] = {}
    for source, done in staging.finished.items():
        if done.skipped:
            skipped[source] = done.skipped
        else:
            file_records[source] = {"sha256": done.sha256, "doc_id": done.doc_id, "chunks": done.chunks}
    report.resumed_files = len(staging.finished)
    if staging.resumed:
        log.info("resuming: %d of %d files already done (%s)%s", len(staging.finished), len(plan), folder.name,
                 f"; {dropped} changed since and are redone" if dropped else "")
    next_row = store.next_row()
    pending: list[_Pending] = []
    pending_chunks = 0
    last_commit = time.perf_counter()
    chunker = ChunkerSettings(settings.chunk_size, settings.chunk_overlap)
    bar = BuildProgress(len(plan), done=len(staging.finished),
                        chunks=sum(d.chunks for d in staging.finished.values()), enabled=progress)

    def flush() -> None:
        nonlocal next_row, pending_chunks, last_commit
        if not pending:
            return
        started = time.perf_counter()
        chunk_texts = [embedding_text(c) for p in pending for c in p.chunks]
        sentence_texts = [s for p in pending for sentences in p.sentences for s in sentences]
        vectors, embedded = _embed_all(chunk_texts + sentence_texts, embedder, cache,
                                       settings.embed_batch_size, bar.is_bar)
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
            staging.record(item.source, FinishedFile(item.document.sha256, item.document.doc_id, len(records)))
        store.commit()
        last_commit = time.perf_counter()
        report.timed("write", started)
        bar.files_done(len(pending), pending_chunks)
        pending.clear()
        pending_chunks = 0

    with bar:
        for item in plan:
            rel, sha, info = item.source, item.sha256, item.info
            doc_id = info.doc_id
            if rel in staging.finished:
                continue
            if time.perf_counter() - last_commit >= COMMIT_EVERY_SECONDS:
                store.commit()  # files copied from the live version, so that an interruption keeps them
                last_commit = time.perf_counter()
            if on_file:
                on_file(rel)

            previous_record = old_files.get(rel)
            if (old_store is not None and previous_record and previous_record["sha256"] == sha
                    and previous_record["doc_id"] == doc_id):
                old_document = old_store.document(doc_id)
                if old_document is not None:
                    stored = old_store.chunks_of(doc_id)
                    if item.listed:
                        old_document = replace(old_document, info=info)
                    records = [ChunkRecord(s.chunk, s.tokens, s.vector, s.sentence_vectors) for s in stored]
                    next_row = store.add_document(old_document, records, old_store.pairs_of(doc_id), next_row)
                    staging.record(rel, FinishedFile(sha, doc_id, len(stored)))
                    file_records[rel] = {"sha256": sha, "doc_id": doc_id, "chunks": len(stored)}
                    report.reused_documents += 1
                    bar.files_done(1, len(stored))
                    continue
            report.loaded_files += 1
            path = settings.corpus_dir / rel
            started = time.perf_counter()
            try:
                document = load_document(path, Path(rel), info, sha256=sha)
            except Exception as err:  # any failure on one file skips that file, named, and indexes the rest
                if not isinstance(err, IngestError):
                    log.debug("loading %s failed", rel, exc_info=True)
                    err = IngestError(path, f"could not be read ({type(err).__name__}: {str(err)[:200]})",
                                      "check the file and re-index")
                skipped[rel] = str(err)
                log.warning("skipped %s", err)
                staging.record(rel, FinishedFile(sha, doc_id, 0, str(err)))
                bar.files_done(1)
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
            pending.append(_Pending(rel, document, chunks, tokens, sentences, pairs))
            pending_chunks += len(chunks)
            file_records[rel] = {"sha256": sha, "doc_id": doc_id, "chunks": len(chunks)}
            if pending_chunks >= settings.index_wave_chunks:
                flush()
        flush()
    store.commit()
    if store.compact_rows():
        log.info("renumbered chunk rows left free by files that changed while the build was interrupted")

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
        VectorIndex.build_from_batches(
            store.vector_batches(recipe.dim), kind, recipe.dim, n_chunks,
            lambda rows: store.vectors_at(rows, recipe.dim), AnnParams.from_settings(settings)).save(
                folder / "dense.faiss")
    report.timed("vectors", started)
    started = time.perf_counter()
    bm25 = BM25Index.build(store.iter_tokens())
    bm25.save(folder)
    if store_spec.get("lexical") == "qdrant" and settings.qdrant_url:  # like the vectors' collection
        QdrantBM25Index.create(bm25, lexical_collection(store_spec["collection"]), settings.qdrant_url,
                               settings.qdrant_api_key)
    report.timed("bm25", started)
    if settings.english_view_weight > 0 or settings.english_view_bonus > 0:  # else made on first use, if ever
        started = time.perf_counter()
        save_english_view(build_english_view(store.iter_tokens()), folder)
        report.timed("english_view", started)
    report.chunks = n_chunks
    in_order = {p.source: file_records[p.source] for p in plan if p.source in file_records}  # resumed ones too
    return report, in_order, kind
