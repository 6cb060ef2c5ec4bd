"""Retrieval quality: this assistant vs. the naive LangChain-tutorial pipelines, in the same run.

    python benchmarks/retrieval.py [--sets tune,check,fresh] [--index DIR] [--out FILE.json] [--no-peer]

Sets: `tune` and `check` are the answerable questions of the two halves of the dev set —
evals/gold.jsonl and evals/dev2.jsonl, split by evals/split.json, as `benchmarks/answers.py`
reads them; `fresh` those of evals/fresh.jsonl, written from the reports alone by someone who saw
neither the code nor its outputs; `fresh2` those of evals/fresh2.jsonl, written the same way later;
a path to a .jsonl is read as a set too.

The naive peers are what a LangChain tutorial builds from the raw files, all on the same
`RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50)` chunks and the same embedder:
`dense` (a FAISS vector store, plain similarity search), `bm25` (`BM25Retriever` over jieba
tokens) and `hybrid` (`EnsembleRetriever` of the two, weights 0.5/0.5: weighted reciprocal-rank
fusion). A passage is relevant if it contains one of the item's evidence spans (whitespace
ignored). Prints, per set and language, R@1/5/10, MRR@10 and nDCG@10 of every system, and the
assistant's retrieval time per question (one question per call).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import ROOT, dev_half, percentile

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


Search = Callable[[str, int], list[str]]


def _jieba_tokens(text: str) -> list[str]:
    import jieba

    return [t for t in jieba.lcut_for_search(text.lower()) if t.strip()]


def naive_peers(embedder: Embedder, corpus: Path) -> tuple[dict[str, Search], list[str]]:
    """The tutorial's dense, BM25 and hybrid retrievers over one set of 500/50 chunks."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from langchain_classic.retrievers import EnsembleRetriever
        from langchain_community.retrievers import BM25Retriever
        from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50)
    documents = [Document(page_content=p.read_text(encoding="utf-8"), metadata={"source": p.name})
                 for p in sorted(corpus.glob("*.txt"))]
    chunks = splitter.split_documents(documents)
    cache = EmbeddingCache(ROOT / ".cache" / "peer-embeddings.sqlite")
    store = FAISS.from_documents(chunks, _langchain_embeddings(embedder, cache))
    bm25 = BM25Retriever.from_documents(chunks, preprocess_func=_jieba_tokens)

    def dense(question: str, k: int) -> list[str]:
        return [d.page_content for d in store.similarity_search(question, k=k)]

    def keyword(question: str, k: int) -> list[str]:
        bm25.k = k
        return [d.page_content for d in bm25.invoke(question)]

    def hybrid(question: str, k: int) -> list[str]:
        bm25.k = k
        ensemble = EnsembleRetriever(retrievers=[bm25, store.as_retriever(search_kwargs={"k": k})],
                                     weights=[0.5, 0.5])
        return [d.page_content for d in ensemble.invoke(question)][:k]

    return {"naive dense": dense, "naive bm25": keyword, "naive hybrid": hybrid}, [c.page_content for c in chunks]


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
    print(f"  {'system':<16}{'n':>5}" + "".join(f"{m:>9}" for m in METRICS))
    for name, values in groups.items():
        print(f"  {name:<16}{int(values['n']):>5}" + "".join(f"{values[m]:>9.3f}" for m in METRICS))


def load_set(name: str) -> list[GoldItem]:
    if name in ("tune", "check"):
        items = dev_half(name)
    elif name in ("fresh", "fresh2"):
        items = load_gold(ROOT / "evals" / f"{name}.jsonl")
    else:
        items = load_gold(Path(name))
    return [i for i in items if i.answerable and i.evidence]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="tune,check,fresh",
                        help="comma-separated: tune, check, fresh, fresh2, or a path")
    parser.add_argument("--index", type=Path, default=ROOT / "index")
    parser.add_argument("--out", type=Path, help="write per-question rows and summaries as JSON")
    parser.add_argument("--no-peer", action="store_true", help="skip the naive LangChain pipelines")
    args = parser.parse_args()

    settings = load_settings(corpus_dir=ROOT / "corpus", index_dir=args.index)
    assistant = Assistant(settings, progress=True)
    all_chunks = [c.chunk.text for c in assistant.index.store.all_chunks()]
    assistant.retrieve("warm-up", 5)
    timings: list[float] = []

    def ours(question: str, k: int) -> list[str]:
        started = time.perf_counter()
        passages = assistant.retrieve(question, k).passages
        timings.append((time.perf_counter() - started) * 1000)
        return [p.text for p in passages]

    systems: dict[str, tuple[Search, list[str]]] = {"assistant": (ours, all_chunks)}
    if not args.no_peer:
        peers, peer_chunks = naive_peers(assistant.embedder, settings.corpus_dir)
        systems.update({name: (search, peer_chunks) for name, search in peers.items()})
    print(f"embedder {assistant.embedder.id}; naive peers: 500/50 splitter chunks of the raw files")
    report: dict[str, Any] = {}
    for set_name in args.sets.split(","):
        items = load_set(set_name)
        rows = {name: evaluate(items, search, chunks) for name, (search, chunks) in systems.items()}
        report[set_name] = {"rows": rows, "summary": {}}
        for lang in ("zh", "en"):
            groups = {name: mean_by(system_rows, lambda r: str(r["lang"]), METRICS)[lang]
                      for name, system_rows in rows.items() if any(r["lang"] == lang for r in system_rows)}
            if groups:
                report[set_name]["summary"][lang] = groups
                print_table(f"{set_name} set, {lang} questions", groups)
    if timings:
        print(f"\nassistant retrieval, one question per call: p50 {percentile(timings, 50):.1f} ms, "
              f"p95 {percentile(timings, 95):.1f} ms over {len(timings)} questions")
    if args.out:
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
