"""Retrieval quality on the gold set: this assistant vs. the naive LangChain-tutorial pipeline.

    python benchmarks/retrieval.py [--gold evals/gold.jsonl] [--index DIR] [--out FILE.json]

Both systems use the same embedder. The peer is what a LangChain tutorial builds: the raw
files, `RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50)`, a FAISS vector
store and plain similarity search. A passage is relevant if it contains one of the item's
evidence spans (whitespace ignored). Unanswerable items are left out of retrieval metrics.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import ROOT

from assistant.config import load_settings
from assistant.embeddings import Embedder, EmbeddingCache
from assistant.evaluation.dataset import GoldItem, load_gold, relevance
from assistant.evaluation.metrics import mean_by, retrieval_scores
from assistant.language import match_key
from assistant.pipeline import Assistant

METRICS = ["R@1", "R@5", "R@10", "MRR@10", "nDCG@10"]


def _langchain_embeddings(embedder: Embedder, cache: EmbeddingCache) -> Any:
    """Our embedder behind LangChain's `Embeddings` interface, with a vector cache."""
    from langchain_core.embeddings import Embeddings

    class CachedEmbeddings(_CachedEmbedding, Embeddings):
        pass

    return CachedEmbeddings(embedder, cache)


class _CachedEmbedding:
    def __init__(self, embedder: Embedder, cache: EmbeddingCache) -> None:
        self.embedder, self.cache = embedder, cache

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        found = self.cache.get_many(self.embedder.id, texts)
        missing = [t for t in dict.fromkeys(texts) if EmbeddingCache.key(t) not in found]
        for i in range(0, len(missing), 16):
            batch = missing[i : i + 16]
            vectors = self.embedder.embed_passages(batch)
            self.cache.put_many(self.embedder.id, batch, vectors)
            found.update((EmbeddingCache.key(t), v) for t, v in zip(batch, vectors, strict=True))
        return [found[EmbeddingCache.key(t)].tolist() for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in self.embedder.embed_queries([text])[0]]


def naive_peer(embedder: Embedder, corpus: Path) -> tuple[Callable[[str, int], list[str]], list[str]]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50)
    documents = [Document(page_content=p.read_text(encoding="utf-8"), metadata={"source": p.name})
                 for p in sorted(corpus.glob("*.txt"))]
    chunks = splitter.split_documents(documents)
    cache = EmbeddingCache(ROOT / ".cache" / "peer-embeddings.sqlite")
    store = FAISS.from_documents(chunks, _langchain_embeddings(embedder, cache))

    def search(question: str, k: int) -> list[str]:
        return [d.page_content for d in store.similarity_search(question, k=k)]

    return search, [c.page_content for c in chunks]


def evaluate(items: list[GoldItem], search: Callable[[str, int], list[str]],
             all_passages: list[str]) -> list[dict[str, Any]]:
    keys = [match_key(p) for p in all_passages]
    rows = []
    for item in items:
        passages = search(item.question, 10)
        relevant = relevance(item, passages)
        spans = item.evidence_keys()
        n_relevant = sum(any(s in k for s in spans) for k in keys)
        rows.append({"id": item.id, "lang": item.lang, "type": item.type,
                     **retrieval_scores(relevant, n_relevant)})
    return rows


def print_table(title: str, groups: dict[str, dict[str, float]]) -> None:
    print(f"\n{title}")
    print(f"  {'group':<14}{'n':>5}" + "".join(f"{m:>9}" for m in METRICS))
    for name, values in groups.items():
        print(f"  {name:<14}{int(values['n']):>5}" + "".join(f"{values[m]:>9.3f}" for m in METRICS))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gold", type=Path, default=ROOT / "evals" / "gold.jsonl")
    parser.add_argument("--index", type=Path, default=ROOT / "index")
    parser.add_argument("--out", type=Path, help="write per-question rows and summaries as JSON")
    parser.add_argument("--no-peer", action="store_true", help="skip the naive LangChain pipeline")
    args = parser.parse_args()

    items = [i for i in load_gold(args.gold) if i.answerable]
    settings = load_settings(corpus_dir=ROOT / "corpus", index_dir=args.index)
    assistant = Assistant(settings, progress=True)
    all_chunks = [c.chunk.text for c in assistant.index.store.all_chunks()]

    def ours(question: str, k: int) -> list[str]:
        return [p.text for p in assistant.retrieve(question, k).passages]

    started = time.perf_counter()
    rows = evaluate(items, ours, all_chunks)
    seconds = time.perf_counter() - started
    summary = {"assistant": {"by_lang": mean_by(rows, lambda r: str(r["lang"]), METRICS),
                             "by_type": mean_by(rows, lambda r: str(r["type"]), METRICS)}}
    print(f"gold set: {args.gold.name}, {len(items)} answerable questions; "
          f"embedder {assistant.embedder.id}; {1000 * seconds / len(items):.0f} ms/question")
    print_table("this assistant, by language", summary["assistant"]["by_lang"])
    print_table("this assistant, by type", summary["assistant"]["by_type"])
    if not args.no_peer:
        search, peer_chunks = naive_peer(assistant.embedder, settings.corpus_dir)
        peer_rows = evaluate(items, search, peer_chunks)
        summary["naive peer"] = {"by_lang": mean_by(peer_rows, lambda r: str(r["lang"]), METRICS),
                                 "by_type": mean_by(peer_rows, lambda r: str(r["type"]), METRICS)}
        print_table("naive LangChain peer (500/50 splitter + FAISS), by language",
                    summary["naive peer"]["by_lang"])
        print_table("naive LangChain peer, by type", summary["naive peer"]["by_type"])
    if args.out:
        args.out.write_text(json.dumps({"summary": summary, "rows": rows}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
