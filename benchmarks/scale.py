"""How the dense (FAISS) side of the index scales with corpus size, per index kind.

    python benchmarks/scale.py [--index DIR] [--sizes 1,10,100,1000] [--passages 1000000] [--max-size N]
        [--kinds flat,hnsw,ivfpq] [--queries 200] [--sweep-from 1000] [--hnsw-ef 128,256,512,1024,2048]
        [--ivf-nprobe 16,32,64,128,256] [--ivf-refine 0,10,20] [--out-md docs/scaling.md] [--out-png docs/scaling.png]

Sizes are multiples of the real corpus's chunk count (--passages adds sizes given as passage
counts). Each size holds the real chunk vectors plus synthetic passages: up to --embed-up-to ×
they are texts recombined from the corpus's own sentences and embedded for real; above that
their vectors are generated (mixtures of two real chunk vectors plus noise). Queries are the
gold questions, embedded for real. Per size and kind, with the settings' default parameters:
build time, file size, search latency (one query per call and batches of 32, k=10), recall@10
against exact search, and the peak memory of a fresh process that loads the index and serves.
From --sweep-from × up, the search-time parameters are also swept on the same built index
(HNSW efSearch; IVF-PQ nprobe at the default re-ranking, and re-ranking at the default nprobe).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import faiss as _faiss
import numpy as np
from _common import GOLD, ROOT, load_gold, percentile

from assistant.index.vectors import AnnParams, VectorIndex, float_vectors_path

faiss: Any = _faiss  # its stubs lack omp_* and __version__
THREADS = 2
K = 10
SENTENCE_END = re.compile(r"(?<=[。！？])|(?<=[.!?])\s+|\n+")
CJK = re.compile(r"[\u4e00-\u9fff]")


def size_label(multiple: float) -> str:
    return f"{multiple:,.0f}×" if abs(multiple - round(multiple)) < 1e-9 else f"{multiple:,.1f}×"


def describe(kind: str, params: AnnParams) -> str:
    """The parameters that matter for this kind, as the table shows them."""
    if kind == "hnsw":
        return f"M {params.hnsw_m}, efC {params.hnsw_ef_construction}, efSearch {params.hnsw_ef_search}"
    if kind == "ivfpq":
        lists = f"lists {params.ivf_lists}" if params.ivf_lists else "lists √n"
        refine = f"re-rank {params.ivf_refine}×k" if params.ivf_refine else "no re-rank"
        return f"{lists}, nprobe {params.ivf_nprobe}, {refine}"
    return "exact"


@dataclass
class Row:
    multiple: float
    passages: int
    kind: str
    params: str  # what `describe` says, plus "(default)" for the settings' defaults
    vectors: str  # "real", "embedded" or "generated"
    build_s: float
    disk_mib: float
    peak_mib: float
    baseline_mib: float
    mapped_mib: float  # file-backed pages of the memory-mapped float vectors (page cache, reclaimable)
    p50_ms: float
    p95_ms: float
    batch_ms: float
    recall: float

    def cells(self) -> list[str]:
        return [size_label(self.multiple), str(self.passages), self.kind, self.params, self.vectors,
                f"{self.build_s:.2f}",
                f"{self.passages / max(self.build_s, 1e-9):,.0f}", f"{self.disk_mib:.1f}", f"{self.peak_mib:.0f}",
                f"{self.baseline_mib:.0f}", f"{self.mapped_mib:.0f}", f"{self.p50_ms:.3f}", f"{self.p95_ms:.3f}",
                f"{self.batch_ms:.3f}",
                f"{self.recall:.3f}"]


HEADER = ["size ×", "passages", "kind", "parameters", "vectors", "build s", "build passages/s", "disk MiB",
          "serving peak RSS MiB", "of which imports MiB", "of which mapped vectors MiB", "p50 ms", "p95 ms",
          "batch-32 per-query ms",
          "recall@10 vs exact"]
WIDTHS = [max(len(h) + 2, 48 if h == "parameters" else 0, 11 if h == "vectors" else 0) for h in HEADER]


def line(cells: list[str]) -> str:
    return "".join(c.rjust(w) for c, w in zip(cells, WIDTHS, strict=True))


def proc_status_mib(field: str) -> float:
    for text in Path("/proc/self/status").read_text().splitlines():
        if text.startswith(field + ":"):
            return int(text.split()[1]) / 1024
    return float("nan")


def serve_probe(path: str, kind: str, queries_path: str, params_json: str) -> None:
    """Child mode: load a saved index and serve the queries; print its memory as JSON.

    ru_maxrss is not used for the peak: on Linux it carries over the parent's peak through
    fork/vfork + exec, so the child would report at least the benchmark's own RSS. VmHWM in
    /proc/self/status is the high-water mark of this process's own address space."""
    import resource

    faiss.omp_set_num_threads(THREADS)
    baseline = proc_status_mib("VmRSS")
    queries = np.load(queries_path)
    index = VectorIndex.load(Path(path), kind, AnnParams(**json.loads(params_json)))
    for start in range(0, len(queries), 32):
        index.search(queries[start : start + 32], K)
    for query in queries[:20]:
        index.search(query[None, :], K)
    mapped, in_vectors = 0.0, False
    for text in Path("/proc/self/smaps").read_text().split("\n"):  # resident pages of dense.npy's mapping
        if text and not text[0].isupper() and "-" in text.split()[0]:
            in_vectors = text.rstrip().endswith(".npy")
        elif text.startswith("Rss:") and in_vectors:
            mapped += int(text.split()[1]) / 1024
    print(json.dumps({"baseline_mib": baseline, "peak_mib": proc_status_mib("VmHWM"), "mapped_mib": mapped,
                      "ru_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def corpus_sentences(texts: list[str]) -> dict[str, list[str]]:
    pools: dict[str, list[str]] = {"zh": [], "en": []}
    for text in texts:
        for sentence in SENTENCE_END.split(text):
            sentence = sentence.strip()
            if len(sentence) >= 4:
                pools["zh" if CJK.search(sentence) else "en"].append(sentence)
    return {lang: pool for lang, pool in pools.items() if pool}


def synthetic_texts(pools: dict[str, list[str]], n: int, rng: np.random.Generator) -> list[str]:
    """Passages of 2–5 random sentences of one language, so that the language stays real."""
    langs = sorted(pools)
    weights = np.asarray([len(pools[lang]) for lang in langs], dtype=float)
    texts = []
    for lang in rng.choice(langs, size=n, p=weights / weights.sum()):
        picks = rng.integers(0, len(pools[lang]), size=int(rng.integers(2, 6)))
        texts.append(("" if lang == "zh" else " ").join(pools[lang][i] for i in picks))
    return texts


def embed_texts(embedder: Any, texts: list[str]) -> np.ndarray:
    from tqdm import tqdm

    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    started = time.perf_counter()
    with tqdm(total=len(texts), desc="embedding", unit="passage") as bar:
        for start in range(0, len(texts), 64):
            out[start : start + 64] = embedder.embed_passages(texts[start : start + 64])
            bar.update(len(texts[start : start + 64]))
    print(f"embedded {len(texts)} synthetic passages at {len(texts) / (time.perf_counter() - started):.1f} "
          f"passages/s", flush=True)
    return out


def generated_vectors(base: np.ndarray, n: int, rng: np.random.Generator, sigma: float = 0.02) -> np.ndarray:
    """normalise(a·v_i + (1-a)·v_j + N(0, σ²)) over random real vectors v_i, v_j, a ~ U[0.5, 1]."""
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for start in range(0, n, 65536):
        m = min(65536, n - start)
        i, j = rng.integers(0, len(base), m), rng.integers(0, len(base), m)
        a = rng.uniform(0.5, 1.0, (m, 1)).astype(np.float32)
        v = a * base[i] + (1 - a) * base[j] + rng.normal(0, sigma, (m, base.shape[1])).astype(np.float32)
        out[start : start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def time_searches(index: VectorIndex, queries: np.ndarray, passes: int = 3) -> tuple[list[float], float]:
    """Per-call ms for one query at a time; median per-query ms over batches of 32 (after warm-up)."""
    index.search(queries[:1], K)
    index.search(queries[:32], K)
    single = []
    for query in queries:
        started = time.perf_counter()
        index.search(query[None, :], K)
        single.append((time.perf_counter() - started) * 1000)
    batched = []
    for _ in range(passes):
        for start in range(0, len(queries), 32):
            started = time.perf_counter()
            index.search(queries[start : start + 32], K)
            batched.append((time.perf_counter() - started) * 1000 / len(queries[start : start + 32]))
    return single, percentile(batched, 50)


def recall_at_k(rows: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(r[r >= 0]) & set(e[e >= 0])) / K for r, e in zip(rows, exact, strict=True)]))


def variants(kind: str, default: AnnParams, sweep: bool, hnsw_ef: Sequence[int], ivf_nprobe: Sequence[int],
             ivf_refine: Sequence[int]) -> list[AnnParams]:
    """The default search parameters first, then (when sweeping) the others worth comparing."""
    if not sweep or kind == "flat":
        return [default]
    if kind == "hnsw":
        others = [replace(default, hnsw_ef_search=ef) for ef in hnsw_ef]
    else:
        others = [replace(default, ivf_nprobe=nprobe) for nprobe in ivf_nprobe]
        others += [replace(default, ivf_refine=refine) for refine in ivf_refine]
    return [default, *[p for p in dict.fromkeys(others) if p != default]]


def measure(vectors: np.ndarray, kinds: list[str], queries_path: Path, queries: np.ndarray, work: Path,
            multiple: float, source: str, params: AnnParams, sweep: bool = False,
            hnsw_ef: Sequence[int] = (), ivf_nprobe: Sequence[int] = (), ivf_refine: Sequence[int] = ()) -> list[Row]:
    """Rows for each kind (flat first: it is what recall is measured against) and each parameter variant."""
    results: list[Row] = []
    exact: np.ndarray | None = None
    for kind in ["flat", *[k for k in kinds if k != "flat"]]:
        faiss.omp_set_num_threads(THREADS)
        started = time.perf_counter()
        built = VectorIndex.build(vectors, kind, params)
        build_s = time.perf_counter() - started
        path = work / f"{size_label(multiple)}-{kind}.faiss"
        built.save(path)
        disk_mib = sum(f.stat().st_size for f in (path, float_vectors_path(path)) if f.exists()) / 2**20
        for search_params in variants(kind, params, sweep, hnsw_ef, ivf_nprobe, ivf_refine):
            index = built.with_params(search_params)
            single, batch_ms = time_searches(index, queries)
            rows = index.search(queries, K)[1]
            exact = rows if exact is None else exact
            probe = subprocess.run([sys.executable, __file__, "--serve-probe", str(path), kind, str(queries_path),
                                    json.dumps(asdict(search_params))], capture_output=True, text=True, check=True)
            memory = json.loads(probe.stdout.strip().splitlines()[-1])
            label = describe(kind, search_params) + (" (default)" if search_params == AnnParams() else "")
            row = Row(multiple, len(vectors), kind, label, source, build_s, disk_mib, memory["peak_mib"],
                      memory["baseline_mib"], memory["mapped_mib"], percentile(single, 50), percentile(single, 95),
                      batch_ms, recall_at_k(rows, exact))
            if kind in kinds:
                print(line(row.cells()), flush=True)
                results.append(row)
        del built
        for leftover in (path, float_vectors_path(path)):
            leftover.unlink(missing_ok=True)
    return results


def markdown_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---:" for _ in HEADER) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r.cells()) + " |" for r in rows])


def machine_info() -> str:
    cpu = "unknown CPU"
    for text in Path("/proc/cpuinfo").read_text().splitlines():
        if text.startswith("model name"):
            cpu = text.split(":", 1)[1].strip()
            break
    ram = next(int(t.split()[1]) for t in Path("/proc/meminfo").read_text().splitlines() if t.startswith("MemTotal"))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{cpu}, {os.cpu_count()} cores, {ram / 2**20:.1f} GiB RAM; FAISS {faiss.__version__}, {THREADS} "
            f"threads; load average when written {load} (other work on the machine adds noise)")


def goals(rows: list[Row], goal_from: float = 1000) -> list[str]:
    """Each row at the goal sizes (from `goal_from` ×, else the largest) against the scale goals."""
    if not rows:
        return ["No results: no goals checked."]
    sizes = sorted({r.multiple for r in rows if r.multiple >= goal_from} or {max(r.multiple for r in rows)})
    out: list[str] = []
    for size in sizes:
        mine = [r for r in rows if r.multiple == size]
        out += [f"Goals at {size_label(size)} ({mine[0].passages:,} passages): retrieval p50 ≤ 50 ms with "
                "recall@10 ≥ 0.95, serving memory ≤ 4 GiB.", ""]
        for r in mine:
            fast = r.p50_ms <= 50 and r.recall >= 0.95
            small = r.peak_mib <= 4096
            out.append(f"- **{r.kind}** ({r.params}): speed with recall — {'met' if fast else 'not met'} "
                       f"(p50 {r.p50_ms:.2f} ms, recall@10 {r.recall:.3f}); memory — "
                       f"{'met' if small else 'not met'} (peak RSS {r.peak_mib:,.0f} MiB)")
        out.append("")
    return out


def write_markdown(path: Path, rows: list[Row], generated: list[str], png: Path | None, base: int,
                   load_at_start: str) -> None:
    command = ".venv/bin/python benchmarks/scale.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    gen_text = (", ".join(generated) + " use generated vectors (each a normalised mix "
                "a·v_i + (1-a)·v_j + N(0, 0.02²) of two real chunk vectors, a ~ U[0.5, 1]), not embedded text"
                if generated else "no size uses generated vectors: every vector comes from the embedder")
    parts = [
        "# How the dense index scales", "",
        f"The real corpus has {base} chunks. Each larger size keeps those chunk vectors and adds synthetic "
        "passages: texts recombined from 2–5 of the corpus's own sentences (one language per passage) and "
        "embedded with the bundled multilingual-e5-small, or, for the largest sizes, generated vectors. The "
        "queries are the gold questions, embedded for real. Latency is the FAISS search alone (k=10; the query "
        "embedding, BM25 and fusion come on top; for IVF-PQ it includes re-ranking with the float vectors), "
        "recall@10 is measured against exact (flat) search at the same size, and memory is the peak RSS of a "
        "fresh process that loads the saved index and serves the queries (its RSS right after imports, before "
        "loading, is shown alongside; for IVF-PQ it counts the pages of the memory-mapped float vectors it "
        "touched). Disk is the index file plus, for IVF-PQ, the float vectors beside it (`dense.npy`). Rows "
        "marked *(default)* use the settings' defaults; the others sweep search-time parameters on the same "
        "built index.", "",
        "Reproduce with:", "", "```", command, "```", "",
        f"Machine: {machine_info()}; load average at the start {load_at_start}.", "",
        f"Vectors: {gen_text}.", "",
        markdown_table(rows), "", *goals(rows),
    ]
    if png is not None:
        parts += [f"![latency, memory and recall against corpus size]({os.path.relpath(png, path.parent)})", ""]
    atomic_write(path, lambda tmp: tmp.write_text("\n".join(parts), encoding="utf-8"))


def write_png(path: Path, rows: list[Row]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    defaults = [r for r in rows if r.kind == "flat" or "(default)" in r.params]
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(16, 4.4))
    for kind in dict.fromkeys(r.kind for r in defaults):
        mine = [r for r in defaults if r.kind == kind]
        left.plot([r.passages for r in mine], [r.p50_ms for r in mine], marker="o", label=kind)
        middle.plot([r.passages for r in mine], [r.peak_mib for r in mine], marker="o", label=kind)
    for axis, title, unit in ((left, "search latency p50 (k=10, one query)", "ms"),
                              (middle, "serving process peak RSS", "MiB")):
        axis.set_xscale("log")
        axis.set_xlabel("passages (default parameters)")
        axis.set_ylabel(unit)
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    for size in sorted({r.multiple for r in rows if r.kind != "flat" and "(default)" not in r.params}):
        for kind in ("hnsw", "ivfpq"):
            mine = sorted((r for r in rows if r.multiple == size and r.kind == kind and "no re-rank" not in r.params),
                          key=lambda r: r.p50_ms)
            if mine:
                right.plot([r.p50_ms for r in mine], [r.recall for r in mine], marker="o",
                           label=f"{kind} at {size_label(size)}")
    right.axhline(0.95, color="grey", linestyle="--", linewidth=1)
    right.set_xscale("log")
    right.set_xlabel("p50 ms (parameter sweep)")
    right.set_ylabel("recall@10 vs exact")
    right.set_title("recall against latency")
    right.grid(True, which="both", alpha=0.3)
    if right.lines[1:]:
        right.legend()
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    plt.close(fig)


def atomic_write(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=ROOT / "index")
    parser.add_argument("--sizes", default="1,10,100,1000", help="multiples of the corpus's chunk count")
    parser.add_argument("--passages", default="", help="more sizes, as passage counts (e.g. 1000000)")
    parser.add_argument("--max-size", type=float, help="drop sizes above this multiple")
    parser.add_argument("--kinds", default="flat,hnsw,ivfpq")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--embed-up-to", type=int, default=10, help="embed texts up to this multiple")
    parser.add_argument("--sweep-from", type=float, default=1000, help="sweep search parameters from this multiple")
    parser.add_argument("--hnsw-ef", default="128,256,512,1024,2048", help="HNSW efSearch values to sweep")
    parser.add_argument("--ivf-nprobe", default="16,32,64,128,256", help="IVF-PQ nprobe values to sweep")
    parser.add_argument("--ivf-refine", default="0,10,20", help="IVF-PQ re-ranking factors to sweep (0 = none)")
    defaults = AnnParams()
    parser.add_argument("--hnsw-m", type=int, default=defaults.hnsw_m)
    parser.add_argument("--hnsw-ef-construction", type=int, default=defaults.hnsw_ef_construction)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-md", type=Path)
    parser.add_argument("--out-png", type=Path)
    parser.add_argument("--serve-probe", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_probe:
        serve_probe(*args.serve_probe)
        return
    load_at_start = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    params = replace(defaults, hnsw_m=args.hnsw_m, hnsw_ef_construction=args.hnsw_ef_construction)
    hnsw_ef = [int(v) for v in args.hnsw_ef.split(",") if v.strip()]
    ivf_nprobe = [int(v) for v in args.ivf_nprobe.split(",") if v.strip()]
    ivf_refine = [int(v) for v in args.ivf_refine.split(",") if v.strip()]

    from assistant.embeddings import BundledE5Embedder
    from assistant.index import IndexCorruptError, IndexNotFoundError, SearchIndex

    try:
        search_index = SearchIndex.open(args.index)
    except (IndexNotFoundError, IndexCorruptError) as err:
        print(f"{err}\nBuild it first: .venv/bin/assistant index", file=sys.stderr)
        sys.exit(1)
    stored = list(search_index.store.all_chunks())
    search_index.close()
    base = np.stack([s.vector for s in stored]).astype(np.float32)
    pools = corpus_sentences([s.chunk.text for s in stored])
    counts = {int(m) * len(base) for m in args.sizes.split(",") if m.strip()}
    counts |= {int(n) for n in args.passages.split(",") if n.strip()}
    sizes = sorted(n for n in counts if args.max_size is None or n <= args.max_size * len(base))
    print(f"corpus: {len(base)} chunks, {sum(map(len, pools.values()))} sentences "
          f"({', '.join(f'{k} {len(v)}' for k, v in pools.items())}); sizes {sizes} passages; kinds {kinds}; "
          f"load average {load_at_start}")

    embedder = BundledE5Embedder()
    questions = [item["question"] for item in load_gold(GOLD)][: args.queries]
    queries = embedder.embed_queries(questions)
    torch_threads = sys.modules["torch"].get_num_threads() if "torch" in sys.modules else "n/a"
    faiss.omp_set_num_threads(THREADS)
    print(f"{len(queries)} gold questions as queries; embedder engine {embedder.engine} (torch threads "
          f"{torch_threads}); FAISS OpenMP threads {faiss.omp_get_max_threads()} (build, search, serving probe)")
    generated = [n for n in sizes if n > max(1, args.embed_up_to) * len(base)]
    generated_labels = [size_label(n / len(base)) for n in generated]
    if generated:
        print(f"NOTE: sizes {', '.join(generated_labels)} use GENERATED vectors (mixtures of real chunk "
              f"vectors plus noise), not embedded text; sizes ≤ {args.embed_up_to}× embed real synthetic text.")

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        work = Path(tmp)
        queries_path = work / "queries.npy"
        np.save(queries_path, queries)
        print(line(HEADER), flush=True)
        for passages in sizes:
            multiple = passages / len(base)
            rng = np.random.default_rng(args.seed + round(multiple))
            extra = passages - len(base)
            if extra <= 0:
                vectors, source = base[:passages], "real"
            elif passages in generated:
                vectors, source = np.concatenate([base, generated_vectors(base, extra, rng)]), "generated"
            else:
                texts = synthetic_texts(pools, extra, rng)
                vectors, source = np.concatenate([base, embed_texts(embedder, texts)]), "embedded"
            rows += measure(vectors, kinds, queries_path, queries, work, multiple, source, params,
                            multiple >= args.sweep_from, hnsw_ef, ivf_nprobe, ivf_refine)
            del vectors

    print("\n" + markdown_table(rows) + "\n\n" + "\n".join(goals(rows)))
    if args.out_png:
        write_png(args.out_png, rows)
        print(f"wrote {args.out_png}")
    if args.out_md:
        write_markdown(args.out_md, rows, generated_labels, args.out_png, len(base), load_at_start)
        print(f"wrote {args.out_md}")


if __name__ == "__main__":
    main()
