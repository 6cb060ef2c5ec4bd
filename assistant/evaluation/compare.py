"""Compare two runs on the questions they share: each metric's difference (B − A) with a paired
bootstrap 95 % confidence interval (questions resampled with replacement, the same resample
for both runs), and the questions whose outcome changed."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from assistant.evaluation.summary import METRICS, Metric, Row, format_value

OUTCOMES = (("refused", "refused"), ("R@5", "found in top 5"), ("cites_evidence", "cites evidence"),
            ("key_fact_coverage", "key facts"), ("language_match", "language"))


def _outcome(row: Row) -> dict[str, Any]:
    citations = row.get("citations") or []
    return {"refused": row.get("refused"), "R@5": row.get("R@5"),
            "cites_evidence": any(c.get("holds_evidence") for c in citations) if citations else None,
            "key_fact_coverage": row.get("key_fact_coverage"), "language_match": row.get("language_match")}


def resamples_of(n: int, resamples: int = 1000, seed: int = 0) -> list[list[int]]:
    """Bootstrap resamples of n paired questions (indices drawn with replacement)."""
    rng = random.Random(seed)
    return [[rng.randrange(n) for _ in range(n)] for _ in range(resamples)] if n else []


def paired_bootstrap(a: Sequence[Row], b: Sequence[Row], compute: Callable[[Sequence[Row]], float | None],
                     picks: Sequence[Sequence[int]]) -> tuple[float | None, float | None, float | None]:
    """(difference, low, high) of metric(B) − metric(A) over paired rows, the interval from the
    2.5th and 97.5th percentiles of the resampled differences; None where undefined."""
    base_a, base_b = compute(a), compute(b)
    if base_a is None or base_b is None:
        return None, None, None
    diffs = []
    for pick in picks:
        value_a, value_b = compute([a[i] for i in pick]), compute([b[i] for i in pick])
        if value_a is not None and value_b is not None:
            diffs.append(value_b - value_a)
    if not diffs:
        return base_b - base_a, None, None
    diffs.sort()
    return base_b - base_a, diffs[int(0.025 * (len(diffs) - 1))], diffs[int(0.975 * (len(diffs) - 1))]


def compare(results_a: dict[str, Any], results_b: dict[str, Any], resamples: int = 1000,
            seed: int = 0) -> dict[str, Any]:
    rows_a = {r["id"]: r for r in results_a["questions"]}
    rows_b = {r["id"]: r for r in results_b["questions"]}
    shared = [i for i in rows_a if i in rows_b]
    a, b = [rows_a[i] for i in shared], [rows_b[i] for i in shared]
    differences = []
    picks = resamples_of(len(shared), resamples, seed)
    for metric, compute in METRICS:
        diff, low, high = paired_bootstrap(a, b, compute, picks)
        if diff is None:
            continue
        differences.append({"metric": metric.name, "label": metric.label, "a": compute(a), "b": compute(b),
                            "difference": diff, "ci_low": low, "ci_high": high,
                            "significant": low is not None and high is not None and (low > 0 or high < 0),
                            "higher_is_better": metric.higher_is_better, "unit": metric.unit})
    changed = []
    for qid, row_a, row_b in zip(shared, a, b, strict=True):
        before, after = _outcome(row_a), _outcome(row_b)
        what = [label for key, label in OUTCOMES if before[key] != after[key]]
        if what:
            changed.append({"id": qid, "lang": row_a["lang"], "type": row_a["type"], "question": row_a["question"],
                            "changed": what, "a": before, "b": after})
    return {"a": results_a["run"]["name"], "b": results_b["run"]["name"], "shared_questions": len(shared),
            "only_in_a": len(rows_a) - len(shared), "only_in_b": len(rows_b) - len(shared),
            "resamples": resamples, "seed": seed, "differences": differences, "changed": changed}


def _value(metric: Metric, value: float | None) -> str:
    return format_value(metric, value)


def render_comparison(result: dict[str, Any]) -> str:
    metrics = {m.name: m for m, _ in METRICS}
    lines = [f"# {result['b']} vs {result['a']}", "",
             f"{result['shared_questions']} questions in both runs"
             + (f" ({result['only_in_a']} only in A, {result['only_in_b']} only in B)"
                if result["only_in_a"] or result["only_in_b"] else "")
             + f"; difference = B − A with a paired bootstrap 95 % interval ({result['resamples']} resamples, "
             f"seed {result['seed']}). ★ marks an interval that excludes 0.", "",
             f"| metric | A: {result['a']} | B: {result['b']} | B − A | 95 % CI |", "| --- | --- | --- | --- | --- |"]
    for d in result["differences"]:
        metric = metrics[d["metric"]]
        digits = 1 if metric.unit == "ms" else 3
        ci = "—" if d["ci_low"] is None else f"[{d['ci_low']:+.{digits}f}, {d['ci_high']:+.{digits}f}]"
        arrow = "" if metric.higher_is_better else " ↓"
        lines.append(f"| {metric.label}{arrow} | {_value(metric, d['a'])} | {_value(metric, d['b'])} | "
                     f"{d['difference']:+.{digits}f}{' ★' if d['significant'] else ''} | {ci} |")
    lines += ["", f"## Questions whose outcome changed ({len(result['changed'])})", ""]
    if not result["changed"]:
        lines.append("None.")
    for change in result["changed"]:
        parts = []
        for key, label in OUTCOMES:
            if label in change["changed"]:
                parts.append(f"{label}: {_short(change['a'][key])} → {_short(change['b'][key])}")
        lines.append(f"- `{change['id']}` ({change['lang']}, {change['type']}) {change['question']} — "
                     + "; ".join(parts))
    return "\n".join(lines) + "\n"


def _short(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return "—" if value is None else str(value).lower()
