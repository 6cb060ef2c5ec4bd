"""The `assistant` command as users run it: a real process, real index, JSON contract, bad input."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from assistant.cli import _format_answer
from assistant.config import Settings
from assistant.pipeline import Assistant
from assistant.types import Passage
from tests.conftest import ROOT, copy_docs

PASSAGE_FIELDS = {"rank", "chunk_id", "doc_id", "title", "section", "text", "score", "char_start", "char_end"}


def run_cli(*args: str, settings: Settings, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ASSISTANT_CORPUS_DIR": str(settings.corpus_dir),
           "ASSISTANT_INDEX_DIR": str(settings.index_dir), "ASSISTANT_LLM": settings.llm}
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], env=env, cwd=ROOT,
                          input=stdin, capture_output=True, text=True, timeout=900)


def test_retrieve_json_follows_the_contract(corpus_assistant: Assistant) -> None:
    result = run_cli("retrieve", "高级别咨询机构建议设立的国际人工智能科学小组负责什么？", "-k", "4",
                     "--json", "-q", settings=corpus_assistant.settings)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    payload = json.loads(lines[0])
    assert payload["lang"] == "zh"
    assert {"embed", "search", "total"} <= set(payload["timings_ms"])
    passages = payload["passages"]
    assert len(passages) == 4 and [p["rank"] for p in passages] == [1, 2, 3, 4]
    for passage in passages:
        assert set(passage) >= PASSAGE_FIELDS
    assert passages[0]["doc_id"] == "002"
    # offsets point into the cleaned document text
    document = corpus_assistant.index.store.document(passages[0]["doc_id"])
    assert document is not None
    assert document.text[passages[0]["char_start"]:passages[0]["char_end"]] == passages[0]["text"]


def test_retrieve_batch_keeps_ids_and_reports_bad_lines(corpus_assistant: Assistant, tmp_path: Path) -> None:
    batch = tmp_path / "questions.jsonl"
    batch.write_text("\n".join([
        json.dumps({"id": "q1", "question": "布莱切利宣言是什么？"}, ensure_ascii=False),
        json.dumps({"id": "q2",
                    "question": "What are the four principles of AI safety as a global public good?"}),
        "{not json",
        json.dumps({"id": "q4", "question": "   "}),
        json.dumps({"id": "q5", "question": "全球人工智能基金"}, ensure_ascii=False),
    ]) + "\n", encoding="utf-8")
    result = run_cli("retrieve", "--batch", str(batch), "-k", "3", "--json", "-q",
                     settings=corpus_assistant.settings)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [r.get("id") for r in rows] == ["q1", "q2", None, "q4", "q5"]
    assert rows[1]["lang"] == "en" and len(rows[1]["passages"]) == 3
    assert rows[2]["error"]["code"] == "bad_input" and "line 3" in rows[2]["error"]["message"]
    assert rows[3]["error"]["code"] == "bad_question"
    assert rows[4]["passages"][0]["doc_id"] == "002"


def test_text_output_is_readable(corpus_assistant: Assistant) -> None:
    result = run_cli("retrieve", "布莱奇利宣言", "-k", "2", "-q", settings=corpus_assistant.settings)
    assert result.returncode == 0
    assert "[1] " in result.stdout and "score" in result.stdout and "[3] " not in result.stdout


def test_sources_do_not_repeat_the_report_title_as_a_section(corpus_assistant: Assistant) -> None:
    """The summit article's first heading is its title; its sources read "title › section"."""
    title = "首届人工智能安全峰会开得怎样？"
    out = io.StringIO()
    _format_answer(corpus_assistant.ask("首届人工智能安全峰会围绕哪五大目标展开讨论？"), out)
    sources = [line for line in out.getvalue().splitlines() if line.startswith("  [")]
    assert any(line.startswith(f"  [1] {title} › 两类人工智能五大目标") for line in sources), sources
    assert not any(f"{title} › {title}" in line for line in sources)
    passage = Passage(rank=1, chunk_id="004#1", doc_id="004", title=title, section=f"{title} > 两类 > 目标",
                      text="…", score=1.0, char_start=0, char_end=1)
    assert passage.section_under(title) == "两类 > 目标"
    assert passage.section_under("How Did the First AI Safety Summit Go?") == passage.section  # other language
    assert passage.where() == f"{title} › 两类 > 目标"
    assert replace(passage, section=title).where() == title


def test_empty_and_huge_questions_are_refused_with_a_message(corpus_assistant: Assistant) -> None:
    empty = run_cli("retrieve", "   ", "-q", settings=corpus_assistant.settings)
    assert empty.returncode == 1 and "empty" in empty.stderr and "问题为空" in empty.stderr
    huge = run_cli("retrieve", "-", "-q", settings=corpus_assistant.settings, stdin="人工智能" * 25_000)
    assert huge.returncode == 1
    assert "100000" in huge.stderr and "ASSISTANT_MAX_QUESTION_CHARS" in huge.stderr
    assert "Traceback" not in huge.stderr + empty.stderr


def test_retrieve_without_an_index_builds_it_first(tmp_path: Path) -> None:
    from assistant.config import load_settings

    corpus = copy_docs(tmp_path / "corpus", ["004_3760a4cddfae1401.txt"])
    settings = load_settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    result = run_cli("retrieve", "布莱奇利宣言由多少个国家签署？", "-k", "1", "--json", settings=settings)
    assert result.returncode == 0, result.stderr
    assert "No index" in result.stderr and "building it" in result.stderr
    assert json.loads(result.stdout)["passages"][0]["doc_id"].startswith("004")


def test_index_command_summary_and_check(tmp_path: Path) -> None:
    from assistant.config import load_settings

    corpus = copy_docs(tmp_path / "corpus", ["004_3760a4cddfae1401.txt"])
    (corpus / "notes.xlsx").write_bytes(b"PK\x03\x04")
    settings = load_settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    built = run_cli("index", "-q", settings=settings)
    assert built.returncode == 0, built.stderr
    assert "Indexed 1 documents" in built.stdout and "1 files skipped" in built.stdout
    assert "notes.xlsx" in built.stderr and "unsupported format" in built.stderr
    again = run_cli("index", "-q", settings=settings)
    assert "up to date" in again.stdout
    check = run_cli("index", "--check", settings=settings)
    assert check.returncode == 0 and "index OK" in check.stdout


def test_missing_corpus_folder_is_a_clear_error(tmp_path: Path) -> None:
    from assistant.config import load_settings

    settings = load_settings(corpus_dir=tmp_path / "nowhere", index_dir=tmp_path / "index")
    result = run_cli("index", settings=settings)
    assert result.returncode == 1
    assert "corpus folder" in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_chat_warns_when_the_page_without_a_login_is_reachable_from_elsewhere() -> None:
    from assistant.cli import unauthenticated_warning

    assert unauthenticated_warning("127.0.0.1", False) == ""
    assert "no login" in unauthenticated_warning("0.0.0.0", False)
    assert "gradio.live" in unauthenticated_warning("127.0.0.1", True)
