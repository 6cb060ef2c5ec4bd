"""The Qdrant vector store (qdrant-client's embedded mode) against FAISS exact search on the
real corpus: the same top-10 for every gold question, up to ties."""

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
from assistant.index.layout import IndexLayout
from assistant.index.qdrant import QdrantUnavailable, QdrantVectorIndex
from assistant.pipeline import Assistant
from tests.conftest import ROOT, free_port

GOLD = load_gold(ROOT / "evals" / "gold.jsonl")


def _fresh(store: str, corpus_settings: Settings, e5: Embedder, root: Path) -> Assistant:
    """A fresh build of the corpus index with this vector store (embeddings from the shared cache)."""
    index_dir = root / store / "index"
    index_dir.mkdir(parents=True)
    (index_dir / "cache").symlink_to(corpus_settings.index_dir / "cache", target_is_directory=True)
    settings = corpus_settings.model_copy(update={"index_dir": index_dir, "vector_store": store})
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
        if a == b:
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
