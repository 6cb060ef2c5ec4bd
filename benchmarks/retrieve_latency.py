"""Retrieval latency on the real corpus index, with the gold-set questions.

    python benchmarks/retrieve_latency.py [--index DIR] [-k 10] [--repeat 3]

Batch mode is what `assistant retrieve --batch` does (questions embedded 32 at a time);
single mode is one question per call, as the chat page and the HTTP API do. Process start
and index loading are excluded (and printed separately).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _common import ROOT, describe_ms, load_gold

from assistant.config import load_settings
from assistant.pipeline import Assistant


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=ROOT / "index")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings = load_settings(corpus_dir=ROOT / "corpus", index_dir=args.index)
    started = time.perf_counter()
    assistant = Assistant(settings, progress=True)
    print(f"load (embedder + index + warm-up): {time.perf_counter() - started:.2f} s; "
          f"{assistant.index.size} chunks; embedder {assistant.embedder.id}")
    questions = [item["question"] for item in load_gold()]

    batch_ms: list[float] = []
    for _ in range(args.repeat):
        for i in range(0, len(questions), 32):
            group = questions[i : i + 32]
            started = time.perf_counter()
            assistant.retrieve_many(group, args.k)
            per_question = (time.perf_counter() - started) * 1000 / len(group)
            batch_ms.extend([per_question] * len(group))
    print(f"batch mode, per question:  {describe_ms(batch_ms)}")

    single_ms, embed_ms, search_ms = [], [], []
    for _ in range(args.repeat):
        for question in questions:
            started = time.perf_counter()
            result = assistant.retrieve(question, args.k)
            single_ms.append((time.perf_counter() - started) * 1000)
            embed_ms.append(result.timings_ms["embed"])
            search_ms.append(result.timings_ms["search"])
    print(f"single question per call:  {describe_ms(single_ms)}")
    print(f"  of which query embedding: {describe_ms(embed_ms)}")
    print(f"  of which search + fusion: {describe_ms(search_ms)}")


if __name__ == "__main__":
    main()
