"""Atomic file replacement: readers see the old file or the new one, and a failed write leaves
no temporary file behind."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from assistant.atomic import replacing, write_atomic
from assistant.ingest.corpus import iter_corpus_files


def test_write_replaces_the_file_and_leaves_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "keys.json"
    target.write_text("old", encoding="utf-8")
    write_atomic(target, "新的 content")
    assert target.read_text(encoding="utf-8") == "新的 content"
    write_atomic(target, b"\x00bytes", durable=True)
    assert target.read_bytes() == b"\x00bytes"
    assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary_one(tmp_path: Path) -> None:
    target = tmp_path / "bm25.npz"
    target.write_bytes(b"complete old index")
    with pytest.raises(RuntimeError), replacing(target) as tmp:
        tmp.write_bytes(b"half of the new")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"complete old index"
    assert [p.name for p in tmp_path.iterdir()] == ["bm25.npz"]


def test_mode_is_set_before_the_file_appears(tmp_path: Path) -> None:
    target = tmp_path / "api_keys.json"
    write_atomic(target, "{}", mode=0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_temporary_names_are_ones_the_corpus_walker_skips(tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    with replacing(target) as tmp:
        tmp.write_text("# 半成品", encoding="utf-8")
        assert tmp.parent == tmp_path and tmp.name.startswith(".") and tmp.name.endswith(".tmp")
        assert list(iter_corpus_files(tmp_path)) == []
    assert list(iter_corpus_files(tmp_path)) == [target]
