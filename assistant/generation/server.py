"""`python -m assistant.generation.server …`: llama-cpp-python's OpenAI-compatible server
(`python -m llama_cpp.server`, same arguments), with llama.cpp's best CPU variant registered
first — a build with run-time CPU selection has no CPU backend until one is."""

from __future__ import annotations

import logging

from assistant.generation.cpu_backend import load_cpu_backend

log = logging.getLogger(__name__)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log.info("llama.cpp CPU backend: %s", load_cpu_backend())
    from llama_cpp.server.__main__ import main as serve  # parses sys.argv like llama_cpp.server

    serve()


if __name__ == "__main__":
    main()
