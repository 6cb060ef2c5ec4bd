"""Index build figures on the real corpus with the configured embedder (default: bundled e5).

    python benchmarks/index_build.py [--keep DIR]

Prints: a full first build (empty embedding cache) with the time per stage, the embedder's
throughput, a rebuild after deleting the index but keeping the embedding cache, and an
incremental run with nothing changed (in-process and as a CLI process).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT

from assistant.config import load_settings
from assistant.embeddings import make_embedder
from assistant.index import build_index


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=Path, help="build here and keep it (default: a temp folder)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-index-"))
    settings = load_settings(corpus_dir=ROOT / "corpus", index_dir=work / "index")
    embedder = make_embedder(settings)
    print(f"embedder: {embedder.id}")

    first = build_index(settings, embedder, progress=False)
    print(f"\nfull first build (empty embedding cache): {first.seconds:.1f} s, "
          f"{first.documents} documents, {first.chunks} chunks, {first.embedded} embedded")
    for stage, seconds in sorted(first.stage_seconds.items(), key=lambda kv: -kv[1]):
        print(f"  {stage:<11} {seconds:7.2f} s  ({100 * seconds / first.seconds:4.1f} %)")

    from assistant.chunking import chunk_sentences
    from assistant.index import SearchIndex
    from assistant.index.builder import embedding_text

    index = SearchIndex.open(settings.index_dir)
    chunks = [c.chunk for c in index.store.all_chunks()]
    index.close()
    texts = set(embedding_text(c) for c in chunks) | {s for c in chunks for s in chunk_sentences(c)}
    count_tokens = getattr(embedder, "token_count", None)
    if count_tokens is not None:
        tokens = sum(count_tokens(t, False) for t in texts)
        seconds = first.stage_seconds["embed"]
        print(f"  embedder ({getattr(embedder, 'engine', '?')}): {len(texts)} texts (chunks and sentences), "
              f"{tokens} tokens in {seconds:.1f} s = {tokens / seconds:.0f} tokens/s")

    for folder in (work / "index").glob("v-*"):
        shutil.rmtree(folder)
    (work / "index" / "CURRENT").unlink()
    cached = build_index(settings, embedder, progress=False)
    print(f"\nrebuild from scratch with a warm embedding cache: {cached.seconds:.2f} s "
          f"({cached.from_cache} vectors from cache, {cached.embedded} embedded)")

    started = time.perf_counter()
    same = build_index(settings, embedder, progress=False)
    print(f"\nnothing changed, in process: {1000 * (time.perf_counter() - started):.0f} ms "
          f"(up to date: {same.up_to_date})")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "assistant.cli", "index", "-q", "--corpus", str(ROOT / "corpus"),
                    "--index", str(work / "index")], check=True, capture_output=True)
    print(f"nothing changed, `assistant index` as a new process: {time.perf_counter() - started:.2f} s")
    if args.keep is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
