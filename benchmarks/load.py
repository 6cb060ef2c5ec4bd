"""Load test of the HTTP service on loopback: N concurrent clients for a fixed time per endpoint.

    python benchmarks/load.py [--clients 32] [--seconds 60] [--workers 2] [--endpoints retrieve,ask]
    python benchmarks/load.py --endpoints mixed --model-clients 8   # some clients ask the bundled model

Starts `assistant serve` on 127.0.0.1 (its own keys file, the project's corpus and index), runs
each endpoint for `--seconds` with `--clients` clients sending gold-set questions back to
back, then stops the server. Prints requests, errors, throughput and latency p50/p95/p99.

`mixed`: `--model-clients` of the clients ask for answers written by the bundled model
(`"llm": "local"`), the others alternate retrieval and quoted answers, while one more client
polls /healthz every 100 ms. Model answers beyond the server's line (`api_model_queue`) are
turned away with 503 + Retry-After: that and 429 are the documented refusals, anything else an
error.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from _common import ROOT, load_gold, percentile

from assistant.api.keys import KeyStore


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run_mixed(url: str, key: str, questions: list[str], clients: int, model_clients: int,
                    seconds: float) -> dict[str, tuple[list[float], Counter[str]]]:
    results: dict[str, tuple[list[float], Counter[str]]] = {
        name: ([], Counter()) for name in ("model ask", "retrieve", "quoted ask", "healthz")}
    deadline = time.monotonic() + seconds
    cycle = itertools.cycle(questions)
    limits = httpx.Limits(max_connections=clients + 1, max_keepalive_connections=clients + 1)

    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120,
                                 limits=limits) as client:
        async def call(name: str, path: str, body: dict[str, object] | None) -> None:
            latencies, outcomes = results[name]
            started = time.perf_counter()
            try:
                response = await (client.post(path, json=body) if body is not None else client.get(path))
                outcomes[str(response.status_code)] += 1
                if response.status_code == 503:  # turned away: wait as told, like a polite client
                    await asyncio.sleep(min(5.0, float(response.headers.get("retry-after", "1"))))
                    return
            except httpx.HTTPError as err:
                outcomes[type(err).__name__] += 1
                return
            latencies.append((time.perf_counter() - started) * 1000)

        async def model_worker() -> None:
            while time.monotonic() < deadline:
                await call("model ask", "/v1/ask", {"question": next(cycle), "llm": "local"})

        async def other_worker(n: int) -> None:
            while time.monotonic() < deadline:
                n += 1
                if n % 2:
                    await call("retrieve", "/v1/retrieve", {"question": next(cycle), "k": 5})
                else:
                    await call("quoted ask", "/v1/ask", {"question": next(cycle), "llm": "extractive"})

        async def health() -> None:
            while time.monotonic() < deadline:
                await call("healthz", "/healthz", None)
                await asyncio.sleep(0.1)

        await asyncio.gather(*(model_worker() for _ in range(model_clients)),
                             *(other_worker(n) for n in range(clients - model_clients)), health())
    return results


async def run_endpoint(url: str, key: str, path: str, questions: list[str], clients: int,
                       seconds: float) -> tuple[list[float], Counter[str]]:
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    deadline = time.monotonic() + seconds
    cycle = itertools.cycle(questions)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60,
                                 limits=limits) as client:
        async def worker() -> None:
            while time.monotonic() < deadline:
                body = {"question": next(cycle), "k": 5}
                started = time.perf_counter()
                try:
                    response = await client.post(path, json=body)
                    outcomes[str(response.status_code)] += 1
                except httpx.HTTPError as err:
                    outcomes[type(err).__name__] += 1
                    continue
                latencies.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies, outcomes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--endpoints", default="retrieve,ask")
    parser.add_argument("--index", type=Path, default=ROOT / "index")
    parser.add_argument("--model-clients", type=int, default=8, help="mixed: clients asking the bundled model")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="load-"))
    key, _ = KeyStore(work / "keys.json").create("load-test", "reader")
    port = _free_port()
    env = {**os.environ, "ASSISTANT_CORPUS_DIR": str(ROOT / "corpus"), "ASSISTANT_INDEX_DIR": str(args.index),
           "ASSISTANT_KEYS_FILE": str(work / "keys.json"), "ASSISTANT_API_RATE_PER_MINUTE": "0",
           "ASSISTANT_LLM": "extractive", "ASSISTANT_FEEDBACK_PATH": str(work / "feedback.jsonl")}
    subprocess.run([sys.executable, "-m", "assistant.cli", "index", "-q"], env=env, cwd=ROOT, check=True)
    log = (work / "server.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--port", str(port),
                               "--workers", str(args.workers)], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        questions = [item["question"] for item in load_gold()]
        # warm-up, not measured: every worker finishes loading and pays its first-call costs
        asyncio.run(run_endpoint(url, key, "/v1/ask", questions, args.clients, 10 + 5 * args.workers))
        print(f"server: {args.workers} worker(s), extractive answers; {args.clients} clients, "
              f"{args.seconds:.0f} s per endpoint; {len(questions)} gold questions in rotation")
        for endpoint in args.endpoints.split(","):
            if endpoint == "mixed":
                mixed = asyncio.run(run_mixed(url, key, questions, args.clients, args.model_clients, args.seconds))
                print(f"mixed: {args.model_clients} of {args.clients} clients ask the bundled model, and /healthz "
                      "is polled every 100 ms")
                for name, (latencies, outcomes) in mixed.items():
                    total = sum(outcomes.values())
                    errors = total - sum(outcomes.get(code, 0) for code in ("200", "429", "503"))
                    print(f"  {name:<10} {total:6d} requests, {errors} errors {dict(outcomes)}; latency of the "
                          f"answered p50 {percentile(latencies, 50):8.1f} ms, p95 {percentile(latencies, 95):8.1f} ms, "
                          f"p99 {percentile(latencies, 99):8.1f} ms")
                continue
            latencies, outcomes = asyncio.run(
                run_endpoint(url, key, f"/v1/{endpoint}", questions, args.clients, args.seconds))
            total = sum(outcomes.values())
            errors = total - outcomes.get("200", 0)
            print(f"/v1/{endpoint:<9} {total:6d} requests, {errors} errors {dict(outcomes)}; "
                  f"{total / args.seconds:6.1f} req/s; latency p50 {percentile(latencies, 50):7.1f} ms, "
                  f"p95 {percentile(latencies, 95):7.1f} ms, p99 {percentile(latencies, 99):7.1f} ms")
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
