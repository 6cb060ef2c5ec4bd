"""Bulk ingestion: hundreds of files stream through `assistant index` with progress, and a build
stopped by Ctrl-C or a kill resumes without redoing the files it finished.

Real parts: the bundled e5 embedder, real FAISS and BM25, files made of real report sentences,
`assistant index` run as a process and interrupted with real signals."""

from __future__ import annotations

import io
import logging
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.chunking import sentence_spans
from assistant.config import Settings, load_settings
from assistant.embeddings import Embedder
from assistant.index import SearchIndex, build_index, check_index
from assistant.index import progress as build_progress
from assistant.index.layout import IndexLayout
from assistant.ingest.cleaning import clean
from assistant.lexical import tokenize
from tests.conftest import CORPUS, ROOT, shared_cache_index

N_FILES = 300
FAST = {"sentence_vectors": False}  # one vector per chunk: the build, not the reranker, is under test


def real_sentences() -> list[str]:
    """Sentences of the real reports that the cleaner keeps (not source notes or captions)."""
    sentences = []
    for path in sorted(CORPUS.glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            sentences.extend(line[a:b] for a, b in sentence_spans(line, 0, len(line)) if 20 <= b - a <= 90)
    return [s for s in sentences if clean(s)]


def write_corpus(folder: Path, n: int, seed: int, tag: str = "") -> Path:
    """`n` small reports (one chunk each) of three real sentences; `tag` makes their text new to
    the embedding cache."""
    rng = random.Random(seed)
    sentences = real_sentences()
    for i in range(n):
        sub = folder / f"batch-{i // 100:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        body = "".join(rng.sample(sentences, 3))
        (sub / f"report-{i:04d}.txt").write_text(f"报告 {tag}{i:04d}\n\n{body}\n", encoding="utf-8")
    return folder


def chunk_set(index_dir: Path) -> dict[str, tuple[str, tuple[str, ...], bytes]]:
    index = SearchIndex.open(index_dir)
    try:
        return {s.chunk.chunk_id: (s.chunk.text, s.tokens, s.vector.tobytes()) for s in index.store.all_chunks()}
    finally:
        index.close()


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_hundreds_of_files_build_with_a_progress_bar_and_search_works(
        tmp_path: Path, e5: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = write_corpus(tmp_path / "corpus", N_FILES, seed=1)
    settings = load_settings(corpus_dir=corpus, index_dir=shared_cache_index(tmp_path / "index"), **FAST)
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    report = build_index(settings, e5, progress=True)
    monkeypatch.undo()

    assert report.documents == N_FILES == report.loaded_files and report.chunks == N_FILES
    assert not report.skipped and check_index(settings.index_dir) == []
    bar = terminal.getvalue().split("\r")[-1]
    assert re.search(rf"indexing: 100%.*{N_FILES}/{N_FILES} \[.*[\d.]+file/s, chunks={N_FILES}\]", bar), bar

    index = SearchIndex.open(settings.index_dir)
    try:
        for i in (0, 137, 299):
            source = f"batch-{i // 100:02d}/report-{i:04d}.txt"
            question = (corpus / source).read_text(encoding="utf-8").split("\n", 2)[2]
            expected = f"batch-{i // 100:02d}-report-{i:04d}"
            _, rows = index.vectors.search(e5.embed_queries([question]), 1)
            assert index.chunks_at([int(rows[0][0])])[int(rows[0][0])].chunk.doc_id == expected
            _, rows = index.bm25.search(tokenize(question), 1)
            assert index.chunks_at([int(rows[0])])[int(rows[0])].chunk.doc_id == expected
    finally:
        index.close()


def _journal(index_dir: Path) -> set[str]:
    """Files the unfinished build has saved (empty while it has not started one)."""
    staging = IndexLayout(index_dir).unfinished()
    if not staging:
        return set()
    try:
        with sqlite3.connect(staging[0] / "chunks.sqlite", timeout=5) as db:
            return {source for (source,) in db.execute("SELECT source FROM build_journal")}
    except sqlite3.OperationalError:  # not created yet
        return set()


def _run_until(env: dict[str, str], index_dir: Path, at_least: int, stop: signal.Signals) -> tuple[int, str]:
    """Run `assistant index`, send `stop` once `at_least` files are journaled; (exit code, stderr)."""
    log = index_dir.parent / f"index-{stop.name}.log"
    with log.open("wb") as err:
        # a shell starting the tests in the background makes them (and so the build) ignore SIGINT
        process = subprocess.Popen([sys.executable, "-m", "assistant.cli", "index"], env=env, cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=err,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 120
        while len(_journal(index_dir)) < at_least:
            assert process.poll() is None, "the build ended before it could be interrupted:\n" + log.read_text()
            assert time.monotonic() < deadline, "the build saved too few files in 120 s:\n" + log.read_text()
            time.sleep(0.05)
        process.send_signal(stop)
        code = process.wait(60)
    return code, log.read_text(encoding="utf-8")


def test_an_interrupted_build_resumes_without_redoing_finished_files(
        tmp_path: Path, e5: Embedder, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    tag = f"{time.time_ns() % 10**9}-"  # text the embedding cache has never seen, so the build takes a while
    corpus = write_corpus(tmp_path / "corpus", N_FILES, seed=2, tag=tag)
    index_dir = tmp_path / "index"
    env = {**os.environ, "ASSISTANT_CORPUS_DIR": str(corpus), "ASSISTANT_INDEX_DIR": str(index_dir),
           "ASSISTANT_SENTENCE_VECTORS": "false", "ASSISTANT_INDEX_WAVE_CHUNKS": "10"}

    # Ctrl-C: a clear message, what is finished is saved, nothing goes live
    code, stderr = _run_until(env, index_dir, 40, signal.SIGINT)
    first = _journal(index_dir)
    assert code == 130, stderr
    assert f"interrupted: {len(first)} of {N_FILES} files are indexed and saved" in stderr
    assert "run the same `assistant index` command again to resume" in stderr
    assert IndexLayout(index_dir).current() is None and len(first) < N_FILES

    # killed outright while resuming: the journal still holds only whole files
    code, stderr = _run_until(env, index_dir, len(first) + 30, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert f"resuming: {len(first)} of {N_FILES} files already done" in stderr
    second = _journal(index_dir)
    assert first < second and len(second) < N_FILES
    staging = IndexLayout(index_dir).unfinished()[0]
    with sqlite3.connect(staging / "chunks.sqlite") as db:  # one chunk per file, none half-saved
        assert db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0] == len(second)

    # the third run processes only the rest, with progress lines (the log is not a terminal)
    settings = load_settings(corpus_dir=corpus, index_dir=index_dir, index_wave_chunks=10, **FAST)
    monkeypatch.setattr(build_progress, "LOG_EVERY_SECONDS", 0.0)
    processed: list[str] = []
    with caplog.at_level(logging.INFO, logger="assistant.index"):
        report = build_index(settings, e5, progress=True, on_file=processed.append)
    all_files = {p.relative_to(corpus).as_posix() for p in corpus.rglob("*.txt")}
    assert set(processed) == all_files - second and len(processed) == N_FILES - len(second)
    assert report.resumed_files == len(second) and report.loaded_files == N_FILES - len(second)
    # the rest: vectors of the wave the kill lost come from the embedding cache, nothing is embedded twice
    assert report.embedded + report.from_cache == N_FILES - len(second)
    messages = [r.getMessage() for r in caplog.records]
    assert f"resuming: {len(second)} of {N_FILES} files already done ({staging.name})" in messages
    progress_lines = [m for m in messages if m.startswith("indexed ")]
    assert re.fullmatch(rf"indexed {N_FILES} of {N_FILES} files: [\d.]+ files/s, {N_FILES} chunks, ETA 0 s",
                        progress_lines[-1]), progress_lines[-1]
    assert any(re.search(r"files/s, \d+ chunks, ETA \d+ (s|min)", m) for m in progress_lines[:-1])
    assert report.documents == N_FILES and check_index(index_dir) == []
    assert not IndexLayout(index_dir).unfinished()

    # the same chunks, tokens and vectors as a clean build
    clean_dir = tmp_path / "clean"
    clean_dir.mkdir()
    (clean_dir / "cache").symlink_to(index_dir / "cache", target_is_directory=True)
    clean = build_index(load_settings(corpus_dir=corpus, index_dir=clean_dir, **FAST), e5, progress=False)
    assert clean.embedded == 0 and clean.chunks == report.chunks
    assert chunk_set(index_dir) == chunk_set(clean_dir)


def test_files_changed_while_interrupted_are_redone(tmp_path: Path, e5: Embedder) -> None:
    corpus = write_corpus(tmp_path / "corpus", 40, seed=3)
    settings = load_settings(corpus_dir=corpus, index_dir=shared_cache_index(tmp_path / "index"),
                             index_wave_chunks=5, **FAST)

    seen: list[str] = []

    def stop_at_the_25th(path: str) -> None:  # waves of 5: 20 files are saved, 4 are lost
        seen.append(path)
        if len(seen) == 25:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt, match="interrupted: 20 of 40 files"):
        build_index(settings, e5, progress=False, on_file=stop_at_the_25th)
    # one saved file changes, one is removed, one is added
    changed = corpus / "batch-00" / "report-0003.txt"
    changed.write_text(changed.read_text(encoding="utf-8") + "新增一句话，说明报告已修改。\n", encoding="utf-8")
    (corpus / "batch-00" / "report-0007.txt").unlink()
    (corpus / "batch-00" / "report-0000a.txt").write_text("新增的报告。人工智能治理需要国际合作。\n", encoding="utf-8")

    report = build_index(settings, e5, progress=False)
    assert report.resumed_files == 18 and report.loaded_files == 40 - 18
    assert report.documents == 40 and check_index(settings.index_dir) == []
    index = SearchIndex.open(settings.index_dir)
    try:
        rows = sorted(s.row for s in index.store.all_chunks())
        assert rows == list(range(report.chunks))  # renumbered without gaps
        (text,) = (s.chunk.text for s in index.store.chunks_of("batch-00-report-0003"))
        assert "报告已修改" in text
        assert "batch-00-report-0007" not in index.documents
    finally:
        index.close()
    clean_dir = tmp_path / "clean"
    clean = build_index(load_settings(corpus_dir=corpus, index_dir=shared_cache_index(clean_dir), **FAST),
                        e5, progress=False)
    assert clean.chunks == report.chunks
    assert chunk_set(settings.index_dir).keys() == chunk_set(clean_dir).keys()


def test_a_rebuild_does_not_resume_an_incremental_builds_copies(
        small_corpus: Settings, e5: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.index import builder

    settings = small_corpus.model_copy(update=FAST)
    build_index(settings, e5, progress=False)
    (settings.corpus_dir / "extra.txt").write_text("人工智能治理需要国际合作。\n", encoding="utf-8")
    monkeypatch.setattr(builder, "COMMIT_EVERY_SECONDS", 0.0)  # save each copied file at once

    def stop_at_extra(path: str) -> None:
        if path == "extra.txt":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt, match="interrupted: 2 of 3 files"):
        build_index(settings, e5, progress=False, on_file=stop_at_extra)
    rebuilt = build_index(settings, e5, rebuild=True, progress=False)  # copies from the live index: not reused
    assert rebuilt.resumed_files == 0 and rebuilt.reused_documents == 0 and rebuilt.loaded_files == 3
    assert rebuilt.documents == 3 and check_index(settings.index_dir) == []
