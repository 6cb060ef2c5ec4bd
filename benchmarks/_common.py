"""Helpers shared by the benchmark scripts (not part of the package)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT / "evals" / "gold.jsonl"
DEV_SETS = (GOLD, ROOT / "evals" / "dev2.jsonl")  # the dev set: both files, split by evals/split.json


def load_gold(path: Path = GOLD) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def dev_half(name: str) -> list[Any]:
    """The dev set's `tune` or `check` half (GoldItems of every file in DEV_SETS)."""
    from assistant.evaluation.dataset import load_gold as load_items
    from assistant.evaluation.split import in_half

    return [item for path in DEV_SETS for item in in_half(load_items(path), name)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def describe_ms(values: list[float]) -> str:
    return (f"median {statistics.median(values):.1f} ms, p95 {percentile(values, 95):.1f} ms, "
            f"mean {statistics.fmean(values):.1f} ms (n={len(values)})")
