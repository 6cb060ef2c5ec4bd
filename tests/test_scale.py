"""benchmarks/scale.py as it is run: a real process on the real corpus index, small sizes only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from assistant.pipeline import Assistant
from tests.conftest import ROOT

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}  # the script imports this checkout's package


def table_rows(markdown: str) -> list[dict[str, str]]:
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    return [dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")), strict=True))
            for line in lines[2:]]


def default_rows(markdown: str) -> dict[tuple[str, str], dict[str, str]]:
    """The rows with the settings' default parameters, keyed by (size, kind)."""
    return {(row["size ×"], row["kind"]): row for row in table_rows(markdown) if "(default)" in row["parameters"]}


def test_scale_benchmark_writes_table_and_plot(corpus_assistant: Assistant, tmp_path: Path) -> None:
    md, png = tmp_path / "scaling.md", tmp_path / "scaling.png"
    result = subprocess.run(
        [sys.executable, "benchmarks/scale.py", "--index", str(corpus_assistant.settings.index_dir),
         "--max-size", "10", "--embed-up-to", "1", "--queries", "40", "--sweep-from", "10",
         "--hnsw-ef", "16,64", "--ivf-nprobe", "4", "--ivf-refine", "0",
         "--out-md", str(md), "--out-png", str(png)],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = default_rows(md.read_text(encoding="utf-8"))
    for size in ("1×", "10×"):
        for kind in ("flat", "hnsw", "ivfpq"):
            assert (size, kind) in rows, f"no row for {size} {kind}"
            assert int(rows[(size, kind)]["passages"]) > 0
            assert float(rows[(size, kind)]["serving peak RSS MiB"]) > 0
    assert int(rows[("10×", "flat")]["passages"]) == 10 * int(rows[("1×", "flat")]["passages"])
    for size in ("1×", "10×"):
        assert rows[(size, "flat")]["recall@10 vs exact"] == "1.000"
    assert float(rows[("1×", "hnsw")]["recall@10 vs exact"]) >= 0.9
    # the sweep at 10×: the other search parameters on the same index, re-ranking beating none
    swept = [row for row in table_rows(md.read_text(encoding="utf-8"))
             if row["size ×"] == "10×" and "(default)" not in row["parameters"] and row["kind"] != "flat"]
    assert {row["parameters"].split("efSearch ")[-1] for row in swept if row["kind"] == "hnsw"} == {"16", "64"}
    unranked = next(row for row in swept if "no re-rank" in row["parameters"])
    assert any("nprobe 4," in row["parameters"] for row in swept)
    reranked = rows[("10×", "ivfpq")]
    assert float(reranked["recall@10 vs exact"]) >= 0.9
    assert float(reranked["of which mapped vectors MiB"]) > 0 == float(unranked["of which mapped vectors MiB"])
    assert float(unranked["recall@10 vs exact"]) < float(reranked["recall@10 vs exact"])
    assert "met" in md.read_text(encoding="utf-8") and "scaling.png" in md.read_text(encoding="utf-8")
    assert png.exists() and png.stat().st_size > 0


def test_scale_benchmark_without_index_says_how_to_build_one(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "benchmarks/scale.py", "--index", str(tmp_path / "missing")],
                            cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert ".venv/bin/assistant index" in result.stderr
