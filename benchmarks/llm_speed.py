"""How fast the local model reads a prompt and writes on this machine, and how long the
evidence-first prompts of real questions are: the figures that set a written answer's first
token and total time, so runs on different machines can be compared.

    python benchmarks/llm_speed.py [--llm local|local:NAME] [--questions 8] [--repeat 3]

Prompt speed is measured on the judgement prompts of the first `--questions` dev-set questions
(each evaluated from an empty cache, so the system prompt counts too); writing speed on up to 48
tokens of an answer after each of the first three questions' answer prompts. Model loading is
excluded (and printed separately).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from _common import ROOT, load_gold

from assistant.config import load_settings
from assistant.pipeline import Assistant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=ROOT / "index")
    parser.add_argument("--llm", default="local")
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings = load_settings(corpus_dir=ROOT / "corpus", index_dir=args.index, llm=args.llm)
    assistant = Assistant(settings, progress=True)
    answerer: Any = assistant.answerer(args.llm)
    chat = getattr(answerer, "chat", None)
    if chat is None or not hasattr(chat, "_model"):
        raise SystemExit(f"--llm {args.llm} is not an in-process llama.cpp model")
    started = time.perf_counter()
    llama = chat._model()
    print(f"model loaded in {time.perf_counter() - started:.1f} s; CPU variant {chat.cpu_variant}, "
          f"{llama.n_threads} threads")

    prompts, writing = [], []
    for item in load_gold()[: args.questions]:
        query = assistant.understand(item["question"], item["lang"])
        retrieval = assistant.retriever.retrieve_queries([query], settings.answer_passages)[0]
        evidence = answerer.fit(assistant.evidence.select(retrieval))
        prompts.append(chat._prompt_tokens(answerer._messages(evidence, "judge"))[0])
        writing.append(chat._prompt_tokens(answerer._messages(evidence, "write"))[0])
    sizes = [len(p) for p in prompts]
    rates = []
    for _ in range(args.repeat):
        for tokens in prompts:
            llama.reset()
            started = time.perf_counter()
            llama.eval(tokens)
            rates.append(len(tokens) / (time.perf_counter() - started))
    print(f"evidence-first prompts: {min(sizes)}–{max(sizes)} tokens (median {statistics.median(sizes):.0f}); "
          f"prompt speed median {statistics.median(rates):.1f} tokens/s (n={len(rates)})")

    written, elapsed = 0, 0.0
    for tokens in writing[:3]:
        llama.reset()
        llama.eval(tokens)
        count, started = 0, 0.0
        for token in llama.generate(tokens, temp=0.0):  # the evaluated prompt is kept (same start)
            if count == 0:
                started = time.perf_counter()  # the first token comes off the evaluated prompt
            count += 1
            if count > 48 or token == llama.token_eos():
                break
        written += count - 1
        elapsed += time.perf_counter() - started
    print(f"writing speed: {written / elapsed:.1f} tokens/s ({written} tokens after 3 answer prompts)")


if __name__ == "__main__":
    main()
