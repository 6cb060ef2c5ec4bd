"""The Qdrant vector store (qdrant-client's embedded mode) against FAISS exact search, and BM25
from Qdrant sparse vectors against the embedded BM25, on the real corpus: the same top-10 for
every gold question, up to ties."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.embeddings import Embedder
from assistant.evaluation.dataset import load_gold
from assistant.index import IndexManifest, build_index
from assistant.index.bm25 import BM25Index
from assistant.index.layout import IndexLayout
from assistant.index.qdrant import QdrantUnavailable, QdrantVectorIndex
from assistant.index.qdrant_bm25 import QdrantBM25Index
from assistant.pipeline import Assistant
from tests.conftest import ROOT, free_port

GOLD = load_gold(ROOT / "evals" / "gold.jsonl")


def _fresh(store: str, corpus_settings: Settings, e5: Embedder, root: Path, lexical: str = "embedded") -> Assistant:
    """A fresh build of the corpus index with this vector store (embeddings from the shared cache)."""
    index_dir = root / f"{store}-{lexical}" / "index"
    index_dir.mkdir(parents=True)
    (index_dir / "cache").symlink_to(corpus_settings.index_dir / "cache", target_is_directory=True)
    settings = corpus_settings.model_copy(update={"index_dir": index_dir, "vector_store": store,
                                                  "lexical_store": lexical})
    return Assistant(settings, embedder=e5, progress=False)


@pytest.fixture(scope="module")
def stores(corpus_assistant: Assistant, corpus_settings: Settings, e5: Embedder,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Assistant, Assistant]]:
    root = tmp_path_factory.mktemp("stores")
    both = (_fresh("faiss", corpus_settings, e5, root), _fresh("qdrant", corpus_settings, e5, root))
    yield both
    for assistant in both:
        assistant.index.close()


def _same_up_to_ties(rows_a: np.ndarray, scores_a: np.ndarray, rows_b: np.ndarray, scores_b: np.ndarray) -> bool:
    """Equal row lists, except that rows with (nearly) equal scores may swap places — and the
    last places may differ only where the scores tie across the cut."""
    if np.allclose(scores_a, scores_b, atol=1e-5) is False:
        return False
    for a, b, sa in zip(rows_a, rows_b, scores_a, strict=True):
        if a == b or np.isclose(sa, scores_a[-1], atol=1e-5):  # equal, or tied at the cut (checked below)
            continue
        if not np.any(np.isclose(scores_a, sa, atol=1e-5) & (rows_a != a)):
            return False
    return set(rows_a[scores_a > scores_a[-1] + 1e-5]) == set(rows_b[scores_b > scores_b[-1] + 1e-5])


def test_qdrant_finds_the_same_top_10_as_faiss_exact_search(stores: tuple[Assistant, Assistant],
                                                            e5: Embedder) -> None:
    corpus_assistant, qdrant_assistant = stores
    faiss_index, qdrant_index = corpus_assistant.index.vectors, qdrant_assistant.index.vectors
    assert faiss_index.kind == "flat" and isinstance(qdrant_index, QdrantVectorIndex)
    assert qdrant_index.size == faiss_index.size == corpus_assistant.index.size
    queries = e5.embed_queries([item.question for item in GOLD])
    faiss_scores, faiss_rows = faiss_index.search(queries, 10)
    qdrant_scores, qdrant_rows = qdrant_index.search(queries, 10)
    differing = [GOLD[i].id for i in range(len(GOLD))
                 if not _same_up_to_ties(faiss_rows[i], faiss_scores[i], qdrant_rows[i], qdrant_scores[i])]
    assert not differing, differing
    # restricted to some rows (the report filter), both stay inside them and agree
    allowed = np.flatnonzero(corpus_assistant.index.row_doc == 0).astype(np.int64)
    _, faiss_some = faiss_index.search(queries[:20], 10, allowed)
    _, qdrant_some = qdrant_index.search(queries[:20], 10, allowed)
    assert set(qdrant_some.ravel()) <= set(allowed) and (faiss_some[:, :3] == qdrant_some[:, :3]).all()


def test_the_whole_retrieval_is_the_same_on_either_store(stores: tuple[Assistant, Assistant]) -> None:
    corpus_assistant, qdrant_assistant = stores
    for item in GOLD:
        ours = [p.chunk_id for p in corpus_assistant.retrieve(item.question, 10).passages]
        theirs = [p.chunk_id for p in qdrant_assistant.retrieve(item.question, 10).passages]
        assert ours == theirs, item.id
    doc = corpus_assistant.index.doc_ids[1]
    filtered = qdrant_assistant.retrieve(GOLD[0].question, 5, [doc]).passages
    assert filtered and {p.doc_id for p in filtered} == {doc}


def test_the_manifest_names_the_store_and_switching_rebuilds(stores: tuple[Assistant, Assistant],
                                                             e5: Embedder) -> None:
    qdrant_assistant = stores[1]
    settings = qdrant_assistant.settings
    folder = IndexLayout(settings.index_dir).current()
    assert folder is not None
    manifest = IndexManifest.read(folder)
    assert manifest.vector_store == {"backend": "qdrant", "url": "", "collection": f"assistant-{folder.name}"}
    assert not (folder / "dense.faiss").exists()
    assert "api_key" not in json.dumps(manifest.vector_store)
    same = build_index(settings, e5, progress=False)
    assert same.up_to_date
    moved = build_index(settings.model_copy(update={"vector_store": "faiss"}), e5, progress=False)
    assert not moved.up_to_date and "moving them to faiss" in moved.reason
    assert (IndexLayout(settings.index_dir).current() / "dense.faiss").exists()  # type: ignore[operator]


def test_an_unreachable_qdrant_server_says_so(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(QdrantUnavailable, match="failed"):
        QdrantVectorIndex.create(np.eye(4, dtype=np.float32), "x", url)


@pytest.fixture(scope="module")
def all_in_qdrant(corpus_settings: Settings, e5: Embedder,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    """Vectors and BM25 both in (embedded) Qdrant."""
    assistant = _fresh("qdrant", corpus_settings, e5, tmp_path_factory.mktemp("lexical"), lexical="qdrant")
    yield assistant
    assistant.index.close()


def _gold_terms(assistant: Assistant) -> list[dict[str, float]]:
    """Each gold question's weighted search terms, as the retriever makes them (both languages)."""
    return [dict(assistant.retriever.analyzer.analyze(item.question, "").terms) for item in GOLD]


def test_qdrant_sparse_bm25_finds_the_same_top_10_as_embedded_bm25(stores: tuple[Assistant, Assistant],
                                                                   all_in_qdrant: Assistant) -> None:
    corpus_assistant = stores[0]  # built fresh like the Qdrant one (the session index may be older)
    ours, theirs = corpus_assistant.index.bm25, all_in_qdrant.index.bm25
    assert isinstance(ours, BM25Index) and isinstance(theirs, QdrantBM25Index)
    assert theirs.size == ours.size == corpus_assistant.index.size
    assert theirs.vocabulary == ours.vocabulary and np.allclose(theirs.idf, ours.idf)
    references = np.asarray(corpus_assistant.index.store.row_values("kind")) == "reference"
    assert references.any()
    filters = {
        "none": None,
        "all but the reference lists": np.flatnonzero(~references).astype(np.int64),  # the retriever's usual
        "one report": np.flatnonzero(corpus_assistant.index.row_doc == 0).astype(np.int64),
    }
    rng = np.random.default_rng(0)
    hits = 0
    for name, allowed in filters.items():
        differing = []
        for item, terms in zip(GOLD, _gold_terms(corpus_assistant), strict=True):
            our_scores, our_rows = ours.search(terms, 10, allowed)
            their_scores, their_rows = theirs.search(terms, 10, allowed)
            hits += len(their_rows)
            inside = allowed is None or set(their_rows) <= set(allowed)
            same = len(our_rows) == len(their_rows) and (
                not len(our_rows) or _same_up_to_ties(our_rows, our_scores, their_rows, their_scores))
            if not (inside and same):
                differing.append(item.id)
        assert not differing, (name, differing)
    assert hits > 3 * 10 * len(GOLD) * 0.8  # the comparison is not over empty lists
    # the scores shown with passages: any rows, fetched from Qdrant and scored the same way
    terms = _gold_terms(corpus_assistant)
    for i in range(0, len(GOLD), 10):
        rows = rng.choice(ours.size, 30, replace=False)
        assert np.allclose(ours.scores_at(terms[i], rows), theirs.scores_at(terms[i], rows), atol=1e-4)
        assert np.allclose(ours.scores_at(terms[i], rows), ours.scores(terms[i])[rows], atol=1e-5)


def test_the_whole_retrieval_is_the_same_with_bm25_in_qdrant(stores: tuple[Assistant, Assistant],
                                                             all_in_qdrant: Assistant) -> None:
    vectors_in_qdrant = stores[1]  # the same dense search, so only where BM25 runs differs
    for item in GOLD:
        ours = vectors_in_qdrant.retrieve(item.question, 10).passages
        theirs = all_in_qdrant.retrieve(item.question, 10).passages
        if [p.chunk_id for p in ours] != [p.chunk_id for p in theirs]:
            # a BM25 tie at the candidate cut lets a different passage into fusion, which may move
            # the lower places (and the scores a little: the fused score is scaled by the pool's best)
            terms = dict(vectors_in_qdrant.retriever.analyzer.analyze(item.question, "").terms)
            kinds = np.asarray(vectors_in_qdrant.index.store.row_values("kind"))
            apparatus = np.isin(kinds, ("reference", "contents"))  # ranked in pools of their own
            n = vectors_in_qdrant.settings.candidates
            differing = 0
            for pool in (np.flatnonzero(~apparatus), np.flatnonzero(apparatus)):
                our_scores, our_rows = vectors_in_qdrant.index.bm25.search(terms, n, pool)
                their_scores, their_rows = all_in_qdrant.index.bm25.search(terms, n, pool)
                if list(our_rows) != list(their_rows):
                    differing += 1
                    assert _same_up_to_ties(our_rows, our_scores, their_rows, their_scores), item.id  # by a tie
            assert differing, item.id  # the pools differ ...
            # ... and the answers differ only by the passage the tie let in: the top 5 agree
            assert len({p.chunk_id for p in ours} - {p.chunk_id for p in theirs}) <= 1, item.id
            assert [p.chunk_id for p in ours[:5]] == [p.chunk_id for p in theirs[:5]], item.id
            continue
        assert np.allclose([p.scores["bm25"] for p in ours], [p.scores["bm25"] for p in theirs], atol=1e-3)


def test_the_manifest_names_the_lexical_store_and_switching_rebuilds(all_in_qdrant: Assistant,
                                                                     e5: Embedder) -> None:
    settings = all_in_qdrant.settings
    folder = IndexLayout(settings.index_dir).current()
    assert folder is not None
    assert IndexManifest.read(folder).vector_store == {
        "backend": "qdrant", "url": "", "lexical": "qdrant", "collection": f"assistant-{folder.name}"}
    assert build_index(settings, e5, progress=False).up_to_date
    moved = build_index(settings.model_copy(update={"lexical_store": "embedded"}), e5, progress=False)
    assert not moved.up_to_date and "moving them to qdrant" in moved.reason and "BM25" in moved.reason
