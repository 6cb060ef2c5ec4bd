"""Answer quality and speed, per backend, on the dev set's tune and check halves and the fresh set.

    python benchmarks/answers.py [--llm auto|extractive|local|local:NAME|openai] [--sets tune,check,fresh]
                                 [--sample N] [--seed 0] [--out rows.json]
    python benchmarks/answers.py --calibrate            # retrieval-score thresholds (weak-evidence notice)
    python benchmarks/answers.py --llm local --calibrate-judge   # the model's answerability threshold
    python benchmarks/answers.py --llm extractive --calibrate-judge   # the same without a model
    python benchmarks/answers.py --checks               # each general check's effect, switched off alone

Sets: `tune` and `check` are the halves of the dev set — evals/gold.jsonl and evals/dev2.jsonl
(evals/split.json; each with the held-out-report questions of evals/held_out.jsonl made from
gold.jsonl's items); dev2.jsonl (80 answerable, 80 on-topic unanswerable, both languages) was
written later from the reports alone, to give the answerability judgement more than twelve
unanswerable questions a half to be fitted and checked on. `fresh` is
evals/fresh.jsonl, written from the reports alone by someone who saw neither the code nor its
answers (measure on it rarely); `fresh2` is evals/fresh2.jsonl, 60 answerable and 60 on-topic
unanswerable questions written the same way on 2026-12-07, after everything the fresh set was
measured against (measure on it more rarely still). `--sample N` takes N answerable and N unanswerable questions of
each set (and N held-out ones), spread over both languages, by a seeded shuffle: for slow backends.

Figures, per set: key facts (strict matcher / widened matcher) of answerable questions; answerable
questions citing a passage that holds their evidence; sentences no evidence supports, of those
stating something; English questions answered in English (quotes count: a Chinese quote is not
an English answer); unanswerable questions refused; answerable questions refused; held-out-report
questions refused; answers where quotes replaced the model; first token and total time p50/p95.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import DEV_SETS, ROOT, dev_half, percentile
from tqdm import tqdm

from assistant.answerability import (
    AnswerabilityJudge,
    calibration_key,
    combined_score,
    judgement_features,
    write_calibration,
)
from assistant.answerability.checks import ALL_CHECKS
from assistant.config import load_settings
from assistant.evaluation.dataset import GoldItem, load_gold
from assistant.evaluation.runner import EvaluationRunner, RunCache
from assistant.evaluation.split import in_half
from assistant.evidence import EvidenceSelector
from assistant.pipeline import Assistant

HELD_OUT = ROOT / "evals" / "held_out.jsonl"
FRESH = ROOT / "evals" / "fresh.jsonl"
FRESH2 = ROOT / "evals" / "fresh2.jsonl"


def load_set(name: str) -> list[GoldItem]:
    if name in ("tune", "check"):
        return dev_half(name) + in_half(load_gold(HELD_OUT), name)
    if name == "fresh":
        return load_gold(FRESH)
    if name == "fresh2":
        return load_gold(FRESH2)
    if name == "gold":
        return [item for path in DEV_SETS for item in load_gold(path)] + load_gold(HELD_OUT)
    return load_gold(Path(name))


def sample(items: list[GoldItem], n: int, seed: int) -> list[GoldItem]:
    """Up to n items of each group (answerable, unanswerable, held-out), half of each language
    where the group allows, by a seeded shuffle."""
    rng = random.Random(seed)
    chosen: list[GoldItem] = []
    groups = (lambda i: i.answerable, lambda i: not i.answerable and not i.search_docs, lambda i: bool(i.search_docs))
    for group in groups:
        for lang, share in (("zh", n - n // 2), ("en", n // 2)):
            members = sorted((i for i in items if group(i) and i.lang == lang), key=lambda i: i.id)
            rng.shuffle(members)
            chosen += members[:share]
    return chosen


def share(values: list[bool]) -> str:
    return f"{sum(values) / len(values):.3f} ({sum(values)}/{len(values)})" if values else "n/a"


def figures(rows: list[dict[str, Any]]) -> dict[str, str]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"] and not r["held_out"]]
    held_out = [r for r in rows if r["held_out"]]
    answered = [r for r in answerable if not r["refused"]]
    english = [r for r in answered if r["lang"] == "en"]
    stated = sum(int(r.get("stated_sentences") or 0) for r in rows)
    unsupported = sum(int(r.get("unsupported_sentences") or 0) for r in rows)
    facts = [r["key_fact_coverage"] for r in answerable if r["key_fact_coverage"] is not None]
    widened = [r["key_fact_coverage_widened"] for r in answerable if r.get("key_fact_coverage_widened") is not None]
    first = [float(r["first_token_ms"]) for r in rows]
    total = [float(r["total_ms"]) for r in rows]
    return {
        "questions": str(len(rows)),
        "key facts, strict / widened (answerable; refused = 0)":
            f"{statistics.fmean(facts):.3f} / {statistics.fmean(widened):.3f}" if facts else "n/a",
        "answerable: cites a passage with evidence": share([r["cites_evidence"] for r in answerable]),
        "unsupported sentences (of those stating something)":
            f"{unsupported / stated:.3f} ({unsupported}/{stated})" if stated else "n/a",
        "English questions answered in English": share([bool(r.get("prose_in_language")) for r in english]),
        "every [n] resolves": share([r["citations_valid"] for r in rows if r["citations_valid"] is not None]),
        "unanswerable refused": share([r["refused"] for r in unanswerable]),
        "answerable refused": share([r["refused"] for r in answerable]),
        "held-out-report refused": share([r["refused"] for r in held_out]),
        "quotes replaced the model": share([r["fallback"] for r in rows if not r["refused"]]),
        "… of which the model translated": share([bool(r.get("translated")) for r in rows if r["fallback"]]),
        "… with translations shown unchecked (⚠; sentences)":
            f"{sum(bool(r.get('unchecked_translations')) for r in rows)} "
            f"({sum(int(r.get('unchecked_translations') or 0) for r in rows)})",
        "first token p50 / p95 (ms)":
            f"{statistics.median(first):,.0f} / {percentile(first, 95):,.0f}" if first else "",
        "total p50 / p95 (ms)": f"{statistics.median(total):,.0f} / {percentile(total, 95):,.0f}" if total else "",
    }


def calibrate(assistant: Assistant, items: list[GoldItem]) -> None:
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


def check_effects(assistant: Assistant, halves: tuple[str, ...] = ("tune", "check")) -> None:
    """Each general check's effect: what the checks in force refuse, and what changes when one
    of them is switched off (or one that is off, on), with no model (the checks alone decide),
    per half and group."""
    in_force = list(assistant.settings.answer_checks)
    judge = assistant.answerability
    groups = (("answerable", lambda i: i.answerable),
              ("unanswerable", lambda i: not i.answerable and not i.search_docs),
              ("held-out", lambda i: bool(i.search_docs)))
    evidence: dict[str, list[tuple[GoldItem, Any]]] = {}
    selector: EvidenceSelector = assistant.evidence
    for half in halves:
        rows = []
        for item in tqdm(load_set(half), desc=f"evidence ({half})", unit="q"):
            query = assistant.understand(item.question, item.lang)  # type: ignore[arg-type]
            retrieval = assistant.retriever.retrieve_queries([query], assistant.settings.answer_passages,
                                                            item.search_docs or None)[0]
            rows.append((item, selector.select(retrieval)))
        evidence[half] = rows

    def refused(names: list[str], half: str) -> dict[str, list[bool]]:
        trial = AnswerabilityJudge.default(judge.caution, judge.min_score, names)
        found: dict[str, list[bool]] = {label: [] for label, _ in groups}
        for item, selected in evidence[half]:
            for label, pick in groups:
                if pick(item):
                    found[label].append(not trial.check(selected).answerable)
        return found

    def line(found: dict[str, list[bool]]) -> str:
        return ", ".join(f"{label} {sum(v)}/{len(v)}" for label, v in found.items())

    print(f"\nchecks in force: {', '.join(in_force)}")
    for half in halves:
        print(f"  {half}: refused {line(refused(in_force, half))}")
    for name, check in ALL_CHECKS.items():
        trial = [n for n in in_force if n != name] if name in in_force else [*in_force, name]
        print(f"\n{'without' if name in in_force else 'with'} {name} (recorded: {check.effect}):")
        for half in halves:
            print(f"  {half}: refused {line(refused(trial, half))}")


def judge_features(assistant: Assistant, llm: str, items: list[GoldItem]) -> list[dict[str, Any]]:
    """Per question the general checks let through: the model's P(answerable) (none when quoting)
    and the evidence figures the combined judgement uses (best passage score, best sentence
    score, the evidence's coverage of the question)."""
    answerer = assistant.answerer(llm)
    rows = []
    for item in tqdm(items, desc="judging", unit="q"):
        query = assistant.understand(item.question, item.lang)  # type: ignore[arg-type]
        retrieval = assistant.retriever.retrieve_queries([query], assistant.settings.answer_passages,
                                                        item.search_docs or None)[0]
        evidence = answerer.fit(assistant.evidence.select(retrieval))
        verdict = assistant.answerability.check(evidence)
        probability = answerer.judge(evidence) if verdict.answerable and not evidence.outline else None
        rows.append({"id": item.id, "lang": item.lang, "answerable": item.answerable,
                     "held_out": bool(item.search_docs),
                     "checks_refuse": not verdict.answerable, "p": probability,
                     "features": None if verdict.answerable is False or evidence.outline
                     else judgement_features(probability, evidence)})
    return rows


def _fit(features: np.ndarray, labels: np.ndarray, l2: float = 1.0, steps: int = 3000) -> dict[str, Any]:
    """Logistic regression (standardised features, L2), by gradient descent: small and exact enough."""
    mean, scale = features.mean(0), features.std(0) + 1e-9
    z = (features - mean) / scale
    weights, bias = np.zeros(z.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ weights + bias)))
        weights -= 0.1 * (z.T @ (p - labels) / len(labels) + l2 * weights / len(labels))
        bias -= 0.1 * float((p - labels).mean())
    return {"mean": mean.round(6).tolist(), "scale": scale.round(6).tolist(), "weights": weights.round(6).tolist(),
            "bias": round(bias, 6)}


def calibrate_judge(assistant: Assistant, llm: str, reuse: bool, quantile: float = 0.02,
                    features: tuple[str, ...] = ("judge", "top", "best", "coverage"), normal: bool = False) -> None:
    """Per language, on the tune half: fit the combined judgement (the model's P(answerable) with
    the retrieval scores and the evidence's coverage of the question; without a model, those
    figures alone) and set its threshold at the `quantile` of answerable questions' scores — read
    off the sorted scores, or (`normal`) off a normal distribution fitted to them, steadier than
    the lowest of some forty scores; then print what it does on the tune and the check half, and
    write the calibration to assistant/data/judge_calibration.json."""
    cache = ROOT / "reports" / f"judge-{llm.replace(':', '-')}.json"
    if reuse and cache.is_file():
        halves = json.loads(cache.read_text(encoding="utf-8"))
    else:
        halves = {half: judge_features(assistant, llm, load_set(half)) for half in ("tune", "check")}
        cache.parent.mkdir(exist_ok=True)
        cache.write_text(json.dumps(halves, indent=1), encoding="utf-8")
    answerer = assistant.answerer(llm)
    key = calibration_key(answerer.name, assistant.embedder.id, assistant.settings.reranker)
    fitted: dict[str, Any] = {}
    for lang in ("zh", "en"):
        tune = [r for r in halves["tune"] if r["lang"] == lang]
        judged = [r for r in tune if r["features"] is not None]
        names = [f for f in features if all(f in r["features"] for r in judged)]
        model = _fit(np.asarray([[r["features"][f] for f in names] for r in judged]),
                     np.asarray([r["answerable"] for r in judged], float))
        model["features"] = names
        scores = sorted(combined_score(model, r["features"]) for r in judged if r["answerable"])
        if normal:
            spread = statistics.NormalDist(statistics.fmean(scores), statistics.pstdev(scores))
            model["threshold"] = round(spread.inv_cdf(quantile), 6)
        else:
            model["threshold"] = round(scores[int(quantile * (len(scores) - 1))], 6)
        fitted[lang] = model
        print(f"\n{lang}: features {names} weights {model['weights']} bias {model['bias']} "
              f"threshold {model['threshold']}")
        for half in ("tune", "check"):
            rows = [r for r in halves[half] if r["lang"] == lang]
            refused = [r["checks_refuse"] or (r["features"] is not None and
                                              combined_score(model, r["features"]) < model["threshold"]) for r in rows]
            parts = []
            for label, pick in (("answerable", lambda r: r["answerable"]),
                                ("unanswerable", lambda r: not r["answerable"] and not r["held_out"]),
                                ("held-out", lambda r: r["held_out"])):
                chosen = [f for r, f in zip(rows, refused, strict=True) if pick(r)]
                parts.append(f"{label} refused {sum(chosen)}/{len(chosen)}")
            print(f"  {half}: " + ", ".join(parts))
    write_calibration(key, fitted)
    print(f"\nwrote the calibration for {key}; per-question figures: {cache}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=ROOT / "index")
    parser.add_argument("--llm", default="extractive")
    parser.add_argument("--sets", default="tune,check",
                        help="comma-separated: tune, check, fresh, fresh2, gold, or a path")
    parser.add_argument("--sample", type=int, default=0, help="N answerable, N unanswerable, N held-out per set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lang", choices=["zh", "en"])
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--calibrate-judge", action="store_true")
    parser.add_argument("--checks", action="store_true", help="each general check's effect, switched off alone")
    parser.add_argument("--reuse", action="store_true", help="with --calibrate-judge: reuse the last probabilities")
    parser.add_argument("--judge-quantile", type=float, default=0.02,
                        help="with --calibrate-judge: the share of the tune half's answerable questions refused")
    parser.add_argument("--normal", action="store_true",
                        help="with --calibrate-judge: the quantile of a normal distribution fitted to their scores")
    parser.add_argument("--judge-features", default="judge,top,best,coverage",
                        help="with --calibrate-judge: what the judgement reads (judge: the model's P(answerable))")
    parser.add_argument("--out", type=Path, help="per-question rows as JSON")
    args = parser.parse_args()

    settings = load_settings(corpus_dir=ROOT / "corpus", index_dir=args.index, llm=args.llm)
    started = time.perf_counter()
    assistant = Assistant(settings, progress=True)
    print(f"loaded in {time.perf_counter() - started:.1f} s; answerer {args.llm}")
    if args.calibrate:
        calibrate(assistant, load_set("gold"))
        return
    if args.calibrate_judge:
        calibrate_judge(assistant, args.llm, args.reuse, args.judge_quantile,
                        tuple(args.judge_features.split(",")), args.normal)
        return
    if args.checks:
        check_effects(assistant)
        return

    table: dict[str, dict[str, str]] = {}
    all_rows: dict[str, list[dict[str, Any]]] = {}
    for name in args.sets.split(","):
        items = load_set(name)
        if args.lang:
            items = [i for i in items if i.lang == args.lang]
        if args.sample:
            items = sample(items, args.sample, args.seed)
        # the evaluation runner answers and scores each question (as `assistant eval` does)
        with tempfile.TemporaryDirectory() as scratch:
            cache = RunCache.open(Path(scratch), "benchmark", resume=False)
            rows = EvaluationRunner(assistant, llm=args.llm).run(items, cache)
        for row, item in zip(rows, items, strict=True):
            row["held_out"] = bool(item.search_docs)
            row["cites_evidence"] = any(c["holds_evidence"] for c in row.get("citations", []))
        failed = [r for r in rows if r.get("error")]
        if failed:
            listed = "; ".join(f"{r['id']}: {r['error']}" for r in failed[:5])
            print(f"{name}: {len(failed)} questions failed: {listed}")
        rows = [r for r in rows if not r.get("error")]
        table[name] = figures(rows)
        all_rows[name] = rows
    names = list(table)
    width = max(len(k) for k in next(iter(table.values())))
    print(f"\nanswerer: {args.llm}" + (f"; sample {args.sample} per group, seed {args.seed}" if args.sample else ""))
    print(f"{'':<{width}}  " + "  ".join(f"{n:>24}" for n in names))
    for key in table[names[0]]:
        print(f"{key:<{width}}  " + "  ".join(f"{table[n][key]:>24}" for n in names))
    if args.out:
        args.out.write_text(json.dumps(all_rows, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
