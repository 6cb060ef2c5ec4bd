"""The FAISS dense index: which kind is chosen, how its parameters get from the settings into
the index, and IVF-PQ's exact re-ranking against exact search on real corpus vectors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings, load_settings
from assistant.embeddings import Embedder
from assistant.evaluation.dataset import load_gold
from assistant.index import SearchIndex, build_index
from assistant.index.layout import IndexLayout
from assistant.index.vectors import (
    AnnParams,
    VectorIndex,
    choose_kind,
    faiss,
    float_vectors_path,
    ivf_lists,
    pq_code_bytes,
)
from assistant.pipeline import Assistant
from tests.conftest import ROOT

GOLD = load_gold(ROOT / "evals" / "gold.jsonl")


def test_auto_is_exact_up_to_the_threshold_then_ivfpq() -> None:
    assert choose_kind("auto", 200_000, 200_000) == "flat"
    assert choose_kind("auto", 200_001, 200_000) == "ivfpq"
    assert load_settings().approximate_above == 200_000
    for kind in ("flat", "hnsw", "ivfpq"):
        assert choose_kind(kind, 10, 500_000) == kind  # type: ignore[arg-type]
    assert ivf_lists(1_000_000) == 1000 and ivf_lists(1_000_000, 4096) == 4096
    assert ivf_lists(362) == 9  # never fewer than 39 training points per cluster
    assert (pq_code_bytes(384), pq_code_bytes(1024), pq_code_bytes(390)) == (96, 256, 78)


def test_parameters_come_from_the_settings_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert AnnParams.from_settings(load_settings()) == AnnParams()  # one set of defaults
    monkeypatch.setenv("ASSISTANT_HNSW_EF_SEARCH", "77")
    monkeypatch.setenv("ASSISTANT_IVF_REFINE", "0")
    params = AnnParams.from_settings(load_settings(hnsw_m=12, ivf_nprobe=5))
    assert (params.hnsw_m, params.hnsw_ef_search, params.ivf_nprobe, params.ivf_refine) == (12, 77, 5, 0)
    with pytest.raises(ValueError, match="vector_store"):
        load_settings(lexical_store="qdrant")


@pytest.fixture(scope="module")
def real_vectors(corpus_assistant: Assistant) -> np.ndarray:
    """Every chunk and sentence vector of the real corpus (a few thousand, all embedded text)."""
    stored = list(corpus_assistant.index.store.all_chunks())
    return np.ascontiguousarray(np.vstack([s.vector[None, :] for s in stored]
                                          + [s.sentence_vectors for s in stored if len(s.sentence_vectors)]),
                                dtype=np.float32)


@pytest.fixture(scope="module")
def gold_queries(e5: Embedder) -> np.ndarray:
    return e5.embed_queries([item.question for item in GOLD])


def _agree(rows: np.ndarray, scores: np.ndarray, exact_rows: np.ndarray, exact_scores: np.ndarray) -> bool:
    """The same top-k as exact search, except where exact scores tie across the cut."""
    cut = exact_scores[-1] - 1e-5
    return (set(exact_rows[exact_scores > cut + 2e-5]) <= set(rows)
            and bool(np.all(scores >= cut)) and np.allclose(np.sort(scores), np.sort(exact_scores), atol=1e-5))


def test_ivfpq_with_refinement_finds_the_exact_top_10(real_vectors: np.ndarray, gold_queries: np.ndarray,
                                                      tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    n = len(real_vectors)
    assert n > 2000
    exact_scores, exact_rows = VectorIndex.build(real_vectors, "flat").search(gold_queries, 10)
    lists = ivf_lists(n)
    # every cluster searched, so only the codes are approximate; on this few vectors the codebooks are
    # coarsely trained (FAISS asks for 9,984 points), so a wide re-ranking (500 candidates) is needed
    searched_all = AnnParams(ivf_nprobe=lists, ivf_refine=50)
    built = VectorIndex.build(real_vectors, "ivfpq", searched_all)
    path = tmp_path / "dense.faiss"
    built.save(path)
    assert float_vectors_path(path).stat().st_size >= real_vectors.nbytes
    loaded = VectorIndex.load(path, "ivfpq", searched_all)
    assert loaded.refines
    for index in (built, loaded):
        scores, rows = index.search(gold_queries, 10)
        differing = [GOLD[i].id for i in range(len(GOLD))
                     if not _agree(rows[i], scores[i], exact_rows[i], exact_scores[i])]
        assert not differing, differing
    # without re-ranking the compressed codes alone get some of the top 10 wrong
    unrefined_scores, unrefined = loaded.with_params(AnnParams(ivf_nprobe=lists, ivf_refine=0)).search(gold_queries, 10)
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(unrefined, exact_rows, strict=True)]) < 0.99
    # restricted to some rows, re-ranked results stay inside them
    allowed = np.arange(0, n, 3, dtype=np.int64)
    _, some = loaded.search(gold_queries[:20], 10, allowed)
    assert set(some.ravel()) <= set(allowed)
    # an index saved without its float vectors still answers, unrefined, and says so
    float_vectors_path(path).unlink()
    with caplog.at_level(logging.WARNING):
        bare = VectorIndex.load(path, "ivfpq", searched_all)
    assert not bare.refines and "not re-ranked" in caplog.text
    assert (bare.search(gold_queries, 10)[1] == unrefined).all()
    assert np.allclose(bare.search(gold_queries, 10)[0], unrefined_scores)


@pytest.fixture()
def hnsw_corpus(small_corpus: Settings) -> Iterator[Settings]:
    yield small_corpus.model_copy(update={"faiss_index": "hnsw", "hnsw_m": 12, "hnsw_ef_construction": 40,
                                          "hnsw_ef_search": 33})


def test_an_hnsw_index_is_built_and_searched_with_the_settings(hnsw_corpus: Settings, e5: Embedder) -> None:
    build_index(hnsw_corpus, e5, progress=False)
    folder = IndexLayout(hnsw_corpus.index_dir).current()
    assert folder is not None
    on_disk = faiss.read_index(str(folder / "dense.faiss"))
    assert on_disk.hnsw.nb_neighbors(0) == 2 * 12 and on_disk.hnsw.efConstruction == 40
    index = SearchIndex.open(hnsw_corpus.index_dir, hnsw_corpus)
    try:
        assert index.vectors.kind == "hnsw" and isinstance(index.vectors, VectorIndex)
        assert index.vectors.params == AnnParams.from_settings(hnsw_corpus)
        assert index.vectors.params.hnsw_ef_search == 33
        # search-time parameters change without a rebuild
        wider = hnsw_corpus.model_copy(update={"hnsw_ef_search": 200})
        reopened = SearchIndex.open(hnsw_corpus.index_dir, wider)
        assert isinstance(reopened.vectors, VectorIndex) and reopened.vectors.params.hnsw_ef_search == 200
        reopened.close()
    finally:
        index.close()


def test_an_ivfpq_corpus_index_keeps_its_float_vectors(small_corpus: Settings, e5: Embedder) -> None:
    settings = small_corpus.model_copy(update={"faiss_index": "ivfpq", "ivf_nprobe": 50})
    build_index(settings, e5, progress=False)
    folder = IndexLayout(settings.index_dir).current()
    assert folder is not None and (folder / "dense.npy").is_file()
    index = SearchIndex.open(settings.index_dir, settings)
    exact = VectorIndex.build(index.store.vectors(index.manifest.recipe.dim), "flat")
    try:
        assert isinstance(index.vectors, VectorIndex) and index.vectors.refines
        queries = e5.embed_queries(["布莱奇利宣言由哪些国家签署？", "What did the Bletchley summit agree?"])
        assert (index.vectors.search(queries, 5)[1] == exact.search(queries, 5)[1]).all()
    finally:
        index.close()
