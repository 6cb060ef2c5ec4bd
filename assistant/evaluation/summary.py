"""From per-question rows to metric tables: every metric over all questions, by language and
by question type. A row is the dictionary the runner writes for one question; a metric that
does not apply to a question is None in its row and left out of that metric's average."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from assistant.evaluation.metrics import percentile, refusal_scores

Row = dict[str, Any]


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    group: str  # retrieval | answer | refusal | speed | judge
    higher_is_better: bool = True
    unit: str = ""  # "" (a share, shown as 0.000) or "ms"


def _mean(field: str) -> Callable[[Sequence[Row]], float | None]:
    def compute(rows: Sequence[Row]) -> float | None:
        values = [float(r[field]) for r in rows if r.get(field) is not None]
        return fmean(values) if values else None
    return compute


def _ratio(part: str, whole: str) -> Callable[[Sequence[Row]], float | None]:
    def compute(rows: Sequence[Row]) -> float | None:
        total = sum(int(r.get(whole) or 0) for r in rows)
        return sum(int(r.get(part) or 0) for r in rows) / total if total else None
    return compute


def _refusal(name: str) -> Callable[[Sequence[Row]], float | None]:
    def compute(rows: Sequence[Row]) -> float | None:
        return refusal_scores([bool(r["answerable"]) for r in rows], [bool(r["refused"]) for r in rows])[name]
    return compute


def _weak(answerable: bool) -> Callable[[Sequence[Row]], float | None]:
    """Share of the answered (not refused) questions of one kind that carry the weak-evidence
    notice: wanted on unanswerable ones, unwanted on answerable ones."""
    def compute(rows: Sequence[Row]) -> float | None:
        values = [bool(r.get("weak_evidence")) for r in rows
                  if bool(r["answerable"]) == answerable and not r["refused"] and "weak_evidence" in r]
        return fmean(values) if values else None
    return compute


def _latency(field: str, q: float) -> Callable[[Sequence[Row]], float | None]:
    def compute(rows: Sequence[Row]) -> float | None:
        return percentile([float(r[field]) for r in rows if r.get(field) is not None], q)
    return compute


METRICS: list[tuple[Metric, Callable[[Sequence[Row]], float | None]]] = [
    (Metric("R@1", "Recall@1", "retrieval"), _mean("R@1")),
    (Metric("R@5", "Recall@5", "retrieval"), _mean("R@5")),
    (Metric("R@10", "Recall@10", "retrieval"), _mean("R@10")),
    (Metric("MRR@10", "MRR@10", "retrieval"), _mean("MRR@10")),
    (Metric("nDCG@10", "nDCG@10", "retrieval"), _mean("nDCG@10")),
    (Metric("key_fact_coverage", "key-fact coverage", "answer"), _mean("key_fact_coverage")),
    (Metric("key_fact_coverage_widened", "key-fact coverage (widened matcher)", "answer"),
     _mean("key_fact_coverage_widened")),
    (Metric("unsupported_share", "unsupported sentences (of those stating something)", "answer",
            higher_is_better=False), _ratio("unsupported_sentences", "stated_sentences")),
    (Metric("prose_in_language", "answers in the question's language, quotes included", "answer"),
     _mean("prose_in_language")),
    (Metric("citation_validity", "citations resolve", "answer"), _mean("citations_valid")),
    (Metric("citation_precision", "citation precision", "answer"), _mean("citation_precision")),
    (Metric("citation_recall", "citation recall", "answer"), _mean("citation_recall")),
    (Metric("supported_share", "supported sentences", "answer"), _mean("supported_share")),
    (Metric("language_match", "language match", "answer"), _mean("language_match")),
    (Metric("refusal_precision", "refusal precision", "refusal"), _refusal("refusal_precision")),
    (Metric("refusal_recall", "refusal recall", "refusal"), _refusal("refusal_recall")),
    (Metric("false_refusal_rate", "false refusals", "refusal", higher_is_better=False),
     _refusal("false_refusal_rate")),
    (Metric("fallback_rate", "model answers replaced", "answer", higher_is_better=False), _mean("fallback")),
    (Metric("weak_evidence_unanswerable", "weak-evidence notice, unanswerable answered", "refusal"),
     _weak(False)),
    (Metric("weak_evidence_answerable", "weak-evidence notice, answerable answered", "refusal",
            higher_is_better=False), _weak(True)),
    (Metric("faithfulness", "faithfulness (judge)", "judge"), _mean("faithfulness")),
    (Metric("correctness", "correctness (judge)", "judge"), _mean("correctness")),
    (Metric("ttft_p50", "first token p50", "speed", False, "ms"), _latency("first_token_ms", 50)),
    (Metric("ttft_p95", "first token p95", "speed", False, "ms"), _latency("first_token_ms", 95)),
    (Metric("total_p50", "total p50", "speed", False, "ms"), _latency("total_ms", 50)),
    (Metric("total_p95", "total p95", "speed", False, "ms"), _latency("total_ms", 95)),
]
BY_NAME = {metric.name: (metric, compute) for metric, compute in METRICS}


def summarise(rows: Sequence[Row]) -> dict[str, float | None]:
    """Every metric over these rows (None where no row applies), plus the row count `n`."""
    out: dict[str, float | None] = {"n": float(len(rows))}
    for metric, compute in METRICS:
        out[metric.name] = compute(rows)
    return out


def breakdown(rows: Sequence[Row]) -> dict[str, dict[str, float | None]]:
    """``{"all": …, "lang=zh": …, "lang=en": …, "type=factoid": …}``."""
    groups: dict[str, list[Row]] = {"all": list(rows)}
    for field in ("lang", "type"):
        for row in rows:
            groups.setdefault(f"{field}={row[field]}", []).append(row)
    return {name: summarise(members) for name, members in groups.items()}


def recall_curve(rows: Sequence[Row], k_max: int = 10) -> list[float]:
    """Recall@k for k = 1..k_max over the rows that have evidence (for the plot)."""
    ranks = [r.get("first_relevant_rank") for r in rows if r.get("R@10") is not None]
    if not ranks:
        return []
    return [sum(1 for rank in ranks if rank is not None and rank <= k) / len(ranks) for k in range(1, k_max + 1)]


def used_metrics(table: dict[str, dict[str, float | None]]) -> list[Metric]:
    """The metrics that have a value somewhere in the table (judge metrics only when judged)."""
    return [m for m, _ in METRICS if any(group.get(m.name) is not None for group in table.values())]


def format_value(metric: Metric, value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if metric.unit == "ms" else f"{value:.3f}"
