"""Shared fixtures: the real corpus, a real index built from it once per session, the real embedder.

The corpus index lives in `.cache/test-index/` (git-ignored) so that its embedding cache
survives between runs: the first `make test` on a machine embeds the corpus once, later runs
only check that nothing changed.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from assistant.config import Settings, load_settings
from assistant.embeddings import BundledE5Embedder, Embedder
from assistant.index import build_index
from assistant.pipeline import Assistant

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CACHE = ROOT / ".cache" / "test-index"


@pytest.fixture(scope="session")
def e5() -> Embedder:
    return BundledE5Embedder()


@pytest.fixture(scope="session")
def corpus_settings() -> Settings:
    return load_settings(corpus_dir=CORPUS, index_dir=CACHE / "corpus", llm="extractive")


@pytest.fixture(scope="session")
def corpus_assistant(corpus_settings: Settings, e5: Embedder) -> Iterator[Assistant]:
    build_index(corpus_settings, e5, progress=False)
    assistant = Assistant(corpus_settings, embedder=e5, progress=False)
    yield assistant
    assistant.index.close()


def copy_docs(target: Path, names: list[str]) -> Path:
    """A small corpus folder holding some of the real reports (and fixture files)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        source = CORPUS / name if (CORPUS / name).exists() else FIXTURES / name
        shutil.copy(source, target / Path(name).name)
    return target


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float, log: Path | None = None) -> None:
    """Poll ``url`` until it answers 200; fail with the server's output if it exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}: "
                               + (log.read_text(errors="replace") if log else ""))
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def shared_cache_index(index_dir: Path) -> Path:
    """Create an index folder whose embedding cache is the session-wide one (creating that too,
    so that the link never dangles whichever test runs first)."""
    shared = CACHE / "small-cache"
    shared.mkdir(parents=True, exist_ok=True)
    index_dir.mkdir(parents=True, exist_ok=True)
    if not (index_dir / "cache").exists():
        (index_dir / "cache").symlink_to(shared, target_is_directory=True)
    return index_dir


@pytest.fixture()
def small_corpus(tmp_path: Path) -> Settings:
    """Two short real reports in a temporary corpus, indexed into a temporary folder; embeddings
    are shared with the session cache so that rebuilding is cheap."""
    corpus = copy_docs(tmp_path / "corpus", ["003_bbe521c40ca0eda9.txt", "004_3760a4cddfae1401.txt"])
    return load_settings(corpus_dir=corpus, index_dir=shared_cache_index(tmp_path / "index"))


class MisbehavingServer(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint that is slow, answers garbage, or cites its sources out of
    order (which the answer renumbers), on purpose."""

    mode = "garbage"

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.mode == "slow":
            time.sleep(5)
        replies = {"garbage": "HACKED", "renumber": "《布莱奇利宣言》由28个国家和欧盟签署 [2]。"}
        text = replies.get(self.mode, "late [1]")
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m",
                     "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode())
            return
        reply = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                              "finish_reason": "stop"}]}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture()
def misbehaving() -> Iterator[tuple[str, type[MisbehavingServer]]]:
    handler = type("Handler", (MisbehavingServer,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", handler
    server.shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def llama_server() -> Iterator[str]:
    """llama.cpp's OpenAI-compatible server (through the wrapper that registers the CPU variant)
    running the bundled model on 127.0.0.1."""
    from assistant.generation import bundled_gguf

    port = free_port()
    log = CACHE / "llama-server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant.generation.server", "--model", str(bundled_gguf()), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "4096", "--model_alias", "qwen2.5-1.5b"],
        stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url + "/v1/models", process, 180, log)
    yield url + "/v1"
    process.terminate()
    process.wait(30)
