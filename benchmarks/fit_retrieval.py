"""Re-fit the retriever's weights on the dev set's tune half and check each on the check half.

    python benchmarks/fit_retrieval.py [--params dense_weight,bm25_weight,...] [--index DIR]

For every weight and bonus of the retriever (`Settings`), one at a time from the current
defaults, every value of its grid is tried; a row shows R@5 and MRR@10 on the tune half and on
the check half, per language, and the mean of the four MRR@10 figures. A value is worth keeping
only if it beats the default on the tune half *and* does not lose on the check half; a weight
whose "off" value (0) does as well as its default on both halves earns nothing and can go.
Only the answerable questions with evidence spans count; the fresh set is never used here.

    python benchmarks/fit_retrieval.py --glossary

ablates the curated glossary instead: each entry that a dev question mentions (in either
language) is removed on its own, and those questions are retrieved again. An entry earns its
place only if removing it loses on the tune half and does not gain on the check half; the rest
are listed as removable.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from statistics import fmean
from typing import Any

from _common import ROOT, dev_half

from assistant.config import load_settings
from assistant.evaluation.dataset import GoldItem, relevance
from assistant.evaluation.metrics import retrieval_scores
from assistant.glossary import Glossary, Term, read_glossary
from assistant.pipeline import Assistant
from assistant.retrieval import HybridRetriever

GRIDS: dict[str, Sequence[Any]] = {
    "rrf_k": [10, 30, 60, 120],
    "dense_weight": [0.0, 0.5, 1.0, 1.5, 2.0],
    "bm25_weight": [0.0, 0.5, 1.0, 1.5, 2.0],
    "named_report_weight": [0.0, 0.5, 1.0, 2.0],
    "heading_weight": [0.0, 0.25, 0.5, 1.0],
    "heading_min_share": [0.0, 0.3, 0.5, 0.7],
    "language_shift": [0.0, 0.4, 0.8, 1.2],
    "crossed_query_weight": [0.0, 0.5, 1.0, 2.0],
    "english_view_weight": [0.0, 0.5, 1.0, 2.0],
    "english_view_bonus": [0.0, 0.01, 0.02, 0.03, 0.04, 0.06],
    "rerank_depth": [10, 20, 30, 50],
    "fusion_weight": [0.0, 0.01, 0.02, 0.04, 0.08],
    "coverage_weight": [0.0, 0.015, 0.03, 0.06, 0.12],
    "named_report_bonus": [0.0, 0.01, 0.02, 0.04],
    "apparatus_penalty": [0.0, 0.02, 0.05, 0.1, 1.0],
}


def answerable(half: str) -> list[GoldItem]:
    return [i for i in dev_half(half) if i.answerable and i.evidence]


def reciprocal_ranks(retriever: HybridRetriever, items: list[GoldItem]) -> list[float]:
    results = retriever.retrieve_many([i.question for i in items], 10)
    return [retrieval_scores(relevance(item, [p.text for p in result.passages]), 1)["MRR@10"]
            for item, result in zip(items, results, strict=True)]


def ablate_glossary(assistant: Assistant, halves: dict[str, list[GoldItem]]) -> None:
    curated = read_glossary()
    corpus_terms = [Term(tuple(en), tuple(zh)) for en, zh in assistant.index.store.document_pairs()]
    full = assistant.retriever
    kept, removable = 0, []
    print("entry (English forms)                     tune: questions, MRR sum with → without   "
          "check: questions, with → without")
    for term in curated:
        probe = Glossary([term])
        touched = {half: [i for i in items if probe.match_en(i.question) or probe.match_zh(i.question)]
                   for half, items in halves.items()}
        if not any(touched.values()):
            continue
        without = HybridRetriever(assistant.index, assistant.embedder, full.settings, full.reranker,
                                  Glossary([t for t in curated if t is not term] + corpus_terms))
        cells = {}
        for half, items in touched.items():
            cells[half] = (len(items), sum(reciprocal_ranks(full, items)) if items else 0.0,
                           sum(reciprocal_ranks(without, items)) if items else 0.0)
        tune_gain = cells["tune"][1] - cells["tune"][2]
        check_gain = cells["check"][1] - cells["check"][2]
        earns = tune_gain > 1e-9 and check_gain >= -1e-9
        kept += earns
        if not earns:
            removable.append(term.en[0])
        print(f"{'|'.join(term.en)[:40]:<42}" + "   ".join(
            f"{n:>3}, {a:6.2f} → {b:6.2f}" for n, a, b in (cells["tune"], cells["check"]))
            + ("" if earns else "   removable"))
    print(f"\n{kept} entries earn their place; removable: {', '.join(removable) or 'none'}")


def score(assistant: Assistant, items: list[GoldItem]) -> dict[str, tuple[float, float]]:
    """(R@5, MRR@10) per language."""
    rows: dict[str, list[dict[str, float]]] = {"zh": [], "en": []}
    results = assistant.retrieve_many([i.question for i in items], 10)
    for item, result in zip(items, results, strict=True):
        relevant = relevance(item, [p.text for p in result.passages])
        rows[item.lang].append({k: float(v) for k, v in retrieval_scores(relevant, 1).items() if v is not None})
    return {lang: (fmean(r["R@5"] for r in group), fmean(r["MRR@10"] for r in group))
            for lang, group in rows.items() if group}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default=",".join(GRIDS), help="comma-separated weights to sweep")
    parser.add_argument("--index", type=Path, default=ROOT / "index")
    parser.add_argument("--glossary", action="store_true", help="ablate the curated glossary's entries")
    args = parser.parse_args()
    base = load_settings(corpus_dir=ROOT / "corpus", index_dir=args.index)
    assistant = Assistant(base)
    halves = {half: answerable(half) for half in ("tune", "check")}
    if args.glossary:
        ablate_glossary(assistant, halves)
        return
    retriever = assistant.retriever
    print(f"tune {len(halves['tune'])} / check {len(halves['check'])} answerable questions; "
          "cells: R@5 / MRR@10 per half and language, then the mean MRR@10 of tune and of check")
    for param in args.params.split(","):
        default = getattr(base, param)
        print(f"\n{param} (default {default})")
        print(f"  {'value':>8}  {'tune zh':>13}  {'tune en':>13}  {'check zh':>13}  {'check en':>13}"
              f"  {'tune':>6}  {'check':>6}")
        for value in GRIDS[param]:
            retriever.settings = base.model_copy(update={param: value})
            cells = {half: score(assistant, items) for half, items in halves.items()}
            mean = {half: fmean(m for _, m in cells[half].values()) for half in cells}
            marks = "  <- default" if value == default else ""
            print(f"  {value!s:>8}  " + "  ".join(
                f"{cells[h][lang][0]:.3f} / {cells[h][lang][1]:.3f}"
                for h in ("tune", "check") for lang in ("zh", "en"))
                + f"  {mean['tune']:.3f}  {mean['check']:.3f}{marks}")
        retriever.settings = base


if __name__ == "__main__":
    main()
