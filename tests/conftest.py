"""Shared fixtures: the real corpus, a real index built from it once per session, the real embedder.

The corpus index lives in `.cache/test-index/` (git-ignored) so that its embedding cache
survives between runs: the first `make test` on a machine embeds the corpus once, later runs
only check that nothing changed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.config import Settings, load_settings
from assistant.embeddings import BundledE5Embedder, Embedder
from assistant.index import build_index
from assistant.pipeline import Assistant

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CACHE = ROOT / ".cache" / "test-index"


@pytest.fixture(scope="session")
def e5() -> Embedder:
    return BundledE5Embedder()


@pytest.fixture(scope="session")
def corpus_settings() -> Settings:
    return load_settings(corpus_dir=CORPUS, index_dir=CACHE / "corpus")


@pytest.fixture(scope="session")
def corpus_assistant(corpus_settings: Settings, e5: Embedder) -> Iterator[Assistant]:
    build_index(corpus_settings, e5, progress=False)
    assistant = Assistant(corpus_settings, embedder=e5, progress=False)
    yield assistant
    assistant.index.close()


def copy_docs(target: Path, names: list[str]) -> Path:
    """A small corpus folder holding some of the real reports (and fixture files)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        source = CORPUS / name if (CORPUS / name).exists() else FIXTURES / name
        shutil.copy(source, target / Path(name).name)
    return target


@pytest.fixture()
def small_corpus(tmp_path: Path) -> Settings:
    """Two short real reports in a temporary corpus, indexed into a temporary folder; embeddings
    are shared with the session cache so that rebuilding is cheap."""
    corpus = copy_docs(tmp_path / "corpus", ["003_bbe521c40ca0eda9.txt", "004_3760a4cddfae1401.txt"])
    index_dir = tmp_path / "index"
    cache = CACHE / "small-cache"
    cache.mkdir(parents=True, exist_ok=True)
    (index_dir).mkdir()
    (index_dir / "cache").symlink_to(cache, target_is_directory=True)
    return load_settings(corpus_dir=corpus, index_dir=index_dir)
