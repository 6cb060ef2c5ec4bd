"""Answer quality and speed on the gold set, per backend.

    python benchmarks/answers.py [--llm extractive|local|openai] [--sample N] [--calibrate]

Figures: every [n] resolves; answerable questions whose answer cites a passage holding their
evidence; answer language = question language; unanswerable questions refused (the gold set's
hand-written ones, and the held-out-report ones of evals/held_out.jsonl: each answerable
question asked with the reports that answer it left out); answerable questions refused; time to
first token and total time. `--calibrate` prints, per language, how many of each a threshold on
the best passage score would catch, to choose ASSISTANT_REFUSE_BELOW_ZH / _EN (refusal) or
ASSISTANT_CAUTION_BELOW_ZH / _EN (the weak-evidence notice).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from _common import ROOT, percentile

from assistant.config import load_settings
from assistant.evaluation.dataset import load_gold
from assistant.evaluation.runner import EvaluationRunner, RunCache
from assistant.pipeline import Assistant


def calibrate(assistant: Assistant, items: list) -> None:
    groups = ("answerable", "unanswerable", "held-out")
    scores: dict[str, dict[str, list[float]]] = {lang: {g: [] for g in groups} for lang in ("zh", "en")}
    for item in items:
        top = assistant.retrieve(item.question, 1, item.search_docs or None).passages
        group = "answerable" if item.answerable else "held-out" if item.search_docs else "unanswerable"
        scores[item.lang][group].append(top[0].score if top else 0.0)
    for lang, by_group in scores.items():
        print(f"\n{lang}: threshold → refuses answerable / unanswerable / held-out")
        answerable = sorted(by_group["answerable"])
        for q in (0.0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.10):
            threshold = answerable[int(q * (len(answerable) - 1))] if q else 0.0
            shares = [sum(s < threshold for s in by_group[g]) / max(1, len(by_group[g])) for g in groups]
            print(f"  {threshold:.4f} → " + " / ".join(f"{v:.2f}" for v in shares))


def sample(items: list, n: int) -> list:
    """Up to n items of each group, every k-th of the group sorted by language then id, so that
    both languages and the whole of each group are represented."""
    chosen = []
    for group in (lambda i: i.answerable, lambda i: not i.answerable and not i.search_docs,
                  lambda i: bool(i.search_docs)):
        members = sorted((i for i in items if group(i)), key=lambda i: (i.lang, i.id))
        step = max(1.0, len(members) / n)
        chosen += [members[int(k * step)] for k in range(min(n, len(members)))]
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gold", type=Path, default=ROOT / "evals" / "gold.jsonl")
    parser.add_argument("--held-out", default=str(ROOT / "evals" / "held_out.jsonl"),
                        help="held-out-report unanswerable items (assistant eval held-out); '' for none")
    parser.add_argument("--index", type=Path, default=ROOT / "index")
    parser.add_argument("--llm", default="extractive")
    parser.add_argument("--limit", type=int, default=0, help="only the first N items (after --lang)")
    parser.add_argument("--sample", type=int, default=0,
                        help="N items of each group (answerable, unanswerable, held-out), spread "
                             "evenly over each and over both languages: for slow backends")
    parser.add_argument("--lang", choices=["zh", "en"])
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--out", type=Path, help="per-question rows as JSON")
    args = parser.parse_args()

    items = load_gold(args.gold) + (load_gold(Path(args.held_out)) if args.held_out else [])
    if args.lang:
        items = [i for i in items if i.lang == args.lang]
    if args.limit:
        items = items[: args.limit]
    if args.sample:
        items = sample(items, args.sample)
    settings = load_settings(corpus_dir=ROOT / "corpus", index_dir=args.index, llm=args.llm)
    started = time.perf_counter()
    assistant = Assistant(settings, progress=True)
    print(f"loaded in {time.perf_counter() - started:.1f} s; backend {args.llm}; {len(items)} questions")
    if args.calibrate:
        calibrate(assistant, items)
        return

    # the evaluation runner answers and scores each question (as `assistant eval` does); this
    # script only adds the held-out flag and sums the rows up
    with tempfile.TemporaryDirectory() as scratch:
        cache = RunCache.open(Path(scratch), "benchmark", resume=False)
        rows = EvaluationRunner(assistant, llm=args.llm).run(items, cache)
    for row, item in zip(rows, items, strict=True):
        row["held_out"] = bool(item.search_docs)
        row["cites_evidence"] = any(c["holds_evidence"] for c in row.get("citations", []))
    errors = [r for r in rows if r.get("error")]
    if errors:
        print(f"{len(errors)} questions failed: " + "; ".join(f"{r['id']}: {r['error']}" for r in errors[:5]))
        rows = [r for r in rows if not r.get("error")]
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"] and not r["held_out"]]
    held_out = [r for r in rows if r["held_out"]]
    answered = [r for r in answerable if not r["refused"]]

    def share(values: list[bool]) -> str:
        return f"{sum(values) / len(values):.3f} ({sum(values)}/{len(values)})" if values else "n/a"

    resolves = [r["citations_valid"] for r in rows if r["citations_valid"] is not None]
    print(f"every [n] resolves (answers, not refusals):  {share(resolves)}")
    print(f"answerable: cites a passage with evidence:   {share([r['cites_evidence'] for r in answerable])}")
    print(f"  (of those answered, not refused)          {share([r['cites_evidence'] for r in answered])}")
    print(f"answer language = question language:        {share([r['language_match'] for r in rows])}")
    print(f"unanswerable refused:                        {share([r['refused'] for r in unanswerable])}")
    print(f"held-out-report questions refused:           {share([r['refused'] for r in held_out])}")
    print(f"answerable refused:                          {share([r['refused'] for r in answerable])}")
    for label, group in (("answerable", answered), ("unanswerable", unanswerable), ("held-out", held_out)):
        flagged = [r["weak_evidence"] for r in group if not r["refused"]]
        print(f"weak-evidence notice, {label + ' answered:':<23}{share(flagged)}")
    facts = [r["key_fact_coverage"] for r in answered if r["key_fact_coverage"] is not None]
    if facts:
        print(f"key-fact coverage (answered):                {statistics.fmean(facts):.3f}")
    fallbacks = [r["fallback"] for r in rows if not r["refused"]]
    if args.llm != "extractive":
        print(f"answers where extractive replaced the model: {share(fallbacks)}")
    for name in ("first_token_ms", "total_ms"):
        values = [float(r[name]) for r in rows]
        print(f"{name:<16} p50 {statistics.median(values):8.1f} ms   p95 {percentile(values, 95):8.1f} ms")
    if args.out:
        args.out.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
