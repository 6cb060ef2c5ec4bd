"""Bulk ingestion: `build_index` over thousands of generated files — throughput and peak memory.

    python benchmarks/bulk_ingest.py [--files 5000] [--sizes 1000,5000] [--sentences 2,4] [--keep DIR]

Each file holds a few sentences (--sentences MIN,MAX) taken at random from the real reports
in corpus/, each prefixed with the file's number ("据报告 17，…" / "Report 17 notes: …") so that
no text repeats and the embedding cache cannot shortcut the work. For every size, in fresh
processes and with default settings:

- cold: an empty index and embedding cache — the real first build; wall time, files/s,
  chunks/s, and peak RSS against the RSS of the loaded embedder after one full batch;
- warm: a new index sharing that embedding cache, so nothing is embedded (the model is never
  loaded) — the pipeline alone: discovery, load, clean, chunk, tokenize, store, FAISS, BM25.
  Its peak RSS is what the build itself holds.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT

from assistant.chunking import sentence_spans
from assistant.ingest.cleaning import clean
from assistant.language import detect_lang


def real_sentences() -> list[str]:
    """Sentences of the real reports that the cleaner keeps (no source notes or captions)."""
    sentences = []
    for path in sorted((ROOT / "corpus").glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            sentences.extend(line[a:b] for a, b in sentence_spans(line, 0, len(line)) if 20 <= b - a <= 120)
    return [s for s in sentences if clean(s)]


def generate(folder: Path, n: int, sentences_per_file: tuple[int, int], seed: int = 0) -> int:
    """`n` reports in folders of 500; returns the number of characters written."""
    rng = random.Random(seed)
    sentences = real_sentences()
    written = 0
    for i in range(n):
        picked = rng.sample(sentences, rng.randint(*sentences_per_file))
        body = "".join(f"据报告 {i}，{s}" if detect_lang(s) == "zh" else f"Report {i} notes: {s} " for s in picked)
        text = f"# 报告 {i}\n\n{body.strip()}\n"
        path = folder / f"part-{i // 500:03d}" / f"report-{i:05d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written += len(text)
    return written


def _peak_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(corpus: Path, index: Path, warm_up: bool) -> None:
    """One build in this process; prints a JSON line of figures (progress lines go to stderr)."""
    logging.basicConfig(level=logging.WARNING, format="    %(message)s", stream=sys.stderr)
    logging.getLogger("assistant.index").setLevel(logging.INFO)  # progress lines every 10 s
    from assistant.config import load_settings
    from assistant.embeddings import make_embedder
    from assistant.index import build_index

    settings = load_settings(corpus_dir=corpus, index_dir=index)
    embedder = make_embedder(settings)
    if warm_up:  # the embedder loaded and one full batch of long texts through it
        embedder.embed_passages(["人工智能治理需要国际合作与多方参与。" * 22] * settings.embed_batch_size)
    baseline = _peak_rss_kib()
    started = time.perf_counter()
    report = build_index(settings, embedder, progress=True)
    wall = time.perf_counter() - started
    print(json.dumps({
        "files": report.documents, "chunks": report.chunks, "embedded": report.embedded, "wall": wall,
        "peak_kib": _peak_rss_kib(), "baseline_kib": baseline, "stages": report.stage_seconds,
        "vector_mib": report.chunks * embedder.dim * 4 / 2**20,
    }))


def _run(corpus: Path, index: Path, warm_up: bool) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", str(corpus), str(index)] + (["--warm-up"] if warm_up else [])
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def _describe(label: str, f: dict[str, float]) -> str:
    return (f"  {label}: {f['wall']:.1f} s, {f['files'] / f['wall']:.1f} files/s, {f['chunks'] / f['wall']:.1f} "
            f"chunks/s ({f['chunks']:.0f} chunks, {f['embedded']:.0f} texts embedded); peak RSS "
            f"{f['peak_kib'] / 1024:.0f} MiB, {f['baseline_kib'] / 1024:.0f} MiB before the build "
            f"(chunk vectors: {f['vector_mib']:.1f} MiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=5000, help="the largest corpus (default 5000 files)")
    parser.add_argument("--sizes", default="", help="comma-separated sizes (default: 1000 and --files)")
    parser.add_argument("--sentences", default="2,4", help="sentences per file, MIN,MAX (default 2,4)")
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temp folder)")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--warm-up", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, warm_up=args.warm_up)
        return
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else sorted({min(1000, args.files), args.files})
    low, high = (int(s) for s in args.sentences.split(","))
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-bulk-"))
    print(f"work folder {work}; {low}-{high} sentences per file; default settings (sentence vectors on)")
    rows = []
    for n in sizes:
        corpus, cold, warm = work / f"corpus-{n}", work / f"index-{n}", work / f"index-{n}-warm"
        for folder in (corpus, cold, warm):
            shutil.rmtree(folder, ignore_errors=True)
        chars = generate(corpus, n, (low, high))
        print(f"\n{n:,} files, {chars / 1e6:.2f} M characters", flush=True)
        first = _run(corpus, cold, warm_up=True)
        print(_describe("cold (embedding everything)", first), flush=True)
        warm.mkdir(parents=True)
        (warm / "cache").symlink_to(cold / "cache", target_is_directory=True)
        second = _run(corpus, warm, warm_up=False)
        print(_describe("warm (all vectors from the cache)", second), flush=True)
        rows.append((n, first, second))
    print("\n| files | chunks | cold: wall | files/s | chunks/s | peak RSS (embedder loaded) "
          "| warm: wall | files/s | peak RSS |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for n, c, w in rows:
        print(f"| {n:,} | {c['chunks']:,.0f} | {c['wall']:.0f} s | {c['files'] / c['wall']:.1f} | "
              f"{c['chunks'] / c['wall']:.1f} | {c['peak_kib'] / 1024:.0f} MiB ({c['baseline_kib'] / 1024:.0f}) | "
              f"{w['wall']:.1f} s | {w['files'] / w['wall']:.0f} | {w['peak_kib'] / 1024:.0f} MiB |")
    if args.keep is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
