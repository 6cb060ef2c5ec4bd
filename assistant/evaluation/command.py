"""`assistant eval`: choose the questions, run them, write the report; `eval compare` and
`eval import-feedback`. The CLI parses arguments; this module does what they ask."""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from assistant.atomic import write_atomic
from assistant.config import Settings
from assistant.evaluation.compare import compare, render_comparison
from assistant.evaluation.dataset import DatasetError, GoldItem, dataset_hash, load_dataset, parse_mapping
from assistant.evaluation.feedback import candidates_from_feedback, read_feedback
from assistant.evaluation.report import load_results, write_report
from assistant.evaluation.runner import EvaluationRunner, ResumeError, RunCache, fingerprint
from assistant.evaluation.split import HALVES, base_id, load_split
from assistant.evaluation.summary import BY_NAME, format_value

log = logging.getLogger(__name__)

FILTER_FIELDS = ("lang", "type", "answerable", "doc", "id", "half")


class EvaluationError(RuntimeError):
    """Something the evaluator asked for cannot be done; the message says what to change."""


def select(items: list[GoldItem], filters: list[str], limit: int, sample: int = 0, seed: int = 0) -> list[GoldItem]:
    """Items passing every FIELD=VALUE filter (VALUE may list alternatives: lang=zh|en), then a
    seeded random `sample` of them (kept in dataset order), then the first `limit`."""
    for spec in filters:
        field, sep, value = spec.partition("=")
        field = field.strip()
        if not sep or field not in FILTER_FIELDS:
            raise EvaluationError(f"'{spec}' is not a filter: write FIELD=VALUE with FIELD one of "
                                  f"{', '.join(FILTER_FIELDS)}")
        wanted = {v.strip().lower() for v in value.split("|")}

        def keep(item: GoldItem, field: str = field, wanted: set[str] = wanted) -> bool:
            if field == "half":  # the dev set's tune or check half (evals/split.json)
                return any(base_id(item.id) in load_split()[half] for half in wanted if half in HALVES)
            if field == "doc":
                return bool(wanted & {d.lower() for d in item.docs})
            if field == "answerable":
                return str(item.answerable).lower() in wanted or ("yes" if item.answerable else "no") in wanted
            return str(getattr(item, field)).lower() in wanted

        items = [item for item in items if keep(item)]
    if sample and sample < len(items):
        chosen = set(random.Random(seed).sample(range(len(items)), sample))
        items = [item for i, item in enumerate(items) if i in chosen]
    if limit:
        items = items[:limit]
    if not items:
        raise EvaluationError("no question is left after --filter/--limit")
    return items


def _judge(args: argparse.Namespace, settings: Settings) -> tuple[Any, str]:
    if not args.judge:
        return None, ""
    from assistant.evaluation.judge import Judge

    model = args.judge_model or settings.judge_model
    if not model:
        raise EvaluationError("--judge needs a judge model: pass --judge-model NAME or set ASSISTANT_JUDGE_MODEL")
    judge_settings = settings.model_copy(update={
        "llm": "openai", "llm_model": model, "llm_base_url": args.judge_url or settings.judge_base_url
        or settings.llm_base_url, "llm_api_key": settings.judge_api_key or settings.llm_api_key,
        "llm_temperature": 0.0, "llm_max_tokens": 160})
    judge = Judge(judge_settings)
    return judge.grade, f"{judge.name}@{judge_settings.llm_base_url}"


def cli_run(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.pipeline import Assistant

    try:
        items = load_dataset(args.dataset, parse_mapping(args.map) if args.map else None)
    except DatasetError as err:
        raise EvaluationError(str(err)) from err
    items = select(items, args.filter, args.limit, args.sample, args.seed)
    llm = args.llm or settings.llm
    out: Path = args.out or Path("reports") / f"{args.dataset.stem}-{llm}"
    judge, judge_name = _judge(args, settings)

    started_at = time.strftime("%Y-%m-%d %H:%M:%S %z")
    started = time.perf_counter()
    assistant = Assistant(settings, progress=not args.quiet)
    unknown = sorted({doc for item in items for doc in item.search_docs} - set(assistant.index.documents))
    if unknown:  # such a search finds nothing, and every question would count as rightly refused
        raise EvaluationError(f"search_docs in {args.dataset} names reports this index does not hold: "
                              f"{', '.join(unknown)}; index those reports, or remake the items for this index "
                              "with `assistant eval held-out`")
    dataset_sha = dataset_hash(args.dataset)
    dump = settings.model_dump(mode="json")
    try:
        cache = RunCache.open(out, fingerprint(dump, dataset_sha, assistant.index.folder.name, judge_name),
                              args.resume)
    except ResumeError as err:
        raise EvaluationError(str(err)) from err
    runner = EvaluationRunner(assistant, llm=llm, judge=judge, seed=args.seed, progress=not args.quiet)
    if not args.verbose:  # per-question notes would break the progress bar; the report holds them
        logging.getLogger("assistant.pipeline").setLevel(logging.WARNING)
    rows = runner.run(items, cache)
    run = {"name": out.name, "dataset": str(args.dataset), "dataset_sha256": dataset_sha, "llm": llm,
           "judge": judge_name, "filters": args.filter, "limit": args.limit, "sample": args.sample, "seed": args.seed,
           "index_version": assistant.index.folder.name, "embedder": assistant.embedder.id,
           "started": started_at, "seconds": round(time.perf_counter() - started, 1),
           "command": "assistant " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else "",
           "resumed": bool(args.resume)}
    results = write_report(out, run=run, settings=dump, rows=rows)
    overall = results["metrics"]["all"]
    for name in ("R@5", "MRR@10", "key_fact_coverage", "citation_precision", "refusal_recall",
                 "false_refusal_rate", "language_match", "total_p50"):
        metric = BY_NAME[name][0]
        print(f"{metric.label:<24} {format_value(metric, overall.get(name))}")
    errors = sum(1 for r in rows if r.get("error"))
    print(f"{len(rows)} questions in {run['seconds']:.0f} s" + (f", {errors} failed" if errors else "")
          + f"; report: {out / 'report.md'}")
    return 0


def cli_compare(a: Path, b: Path, out: Path | None, resamples: int, seed: int) -> int:
    try:
        results_a, results_b = load_results(a), load_results(b)
    except FileNotFoundError as err:
        raise EvaluationError(str(err)) from err
    result = compare(results_a, results_b, resamples, seed)
    if not result["shared_questions"]:
        raise EvaluationError(f"{a} and {b} have no question in common: were they run on the same dataset?")
    text = render_comparison(result)
    print(text)
    target = out or b / f"compare-vs-{a.name}.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, text.encode("utf-8"))
    write_atomic(target.with_suffix(".json"), json.dumps(result, ensure_ascii=False, indent=1).encode("utf-8"))
    print(f"written to {target} and {target.with_suffix('.json')}", file=sys.stderr)
    return 0


def cli_held_out(dataset: Path, out: Path, settings: Settings) -> int:
    """Write the held-out-report unanswerable items made from `dataset` to `out`."""
    from assistant.evaluation.negatives import held_out_items
    from assistant.pipeline import Assistant

    try:
        items = load_dataset(dataset)
    except DatasetError as err:
        raise EvaluationError(str(err)) from err
    assistant = Assistant(settings)
    rows = list(held_out_items(assistant, items))
    if not rows:
        raise EvaluationError(f"no item of {dataset} could be held out: it needs answerable items with docs and "
                              "evidence, and an index with more than one report")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    answerable = sum(1 for item in items if item.answerable and item.docs and item.evidence)
    print(f"{len(rows)} unanswerable items written to {out} ({answerable - len(rows)} of {answerable} answerable "
          "items skipped: their evidence is also in a report that stays searchable)")
    return 0


def cli_import_feedback(feedback: Path, out: Path, dataset: Path | None) -> int:
    try:
        records = read_feedback(feedback)
        known = load_dataset(dataset) if dataset is not None and dataset.is_file() else []
    except (FileNotFoundError, DatasetError) as err:
        raise EvaluationError(str(err)) from err
    candidates = candidates_from_feedback(records, known)
    existing: list[dict[str, Any]] = []
    if out.is_file():  # keep earlier candidates (and the reviews done on them)
        existing = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]
    seen = {c["id"] for c in existing}
    added = [c for c in candidates if c["id"] not in seen]
    out.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in [*existing, *added])
    write_atomic(out, body.encode("utf-8"))
    print(f"{len(records)} feedback records → {len(added)} new candidate items in {out} "
          f"({len(existing)} were there already); review them, then move the good ones into a dataset")
    return 0


os.environ.setdefault("MPLBACKEND", "Agg")  # plots are files; never open a window
