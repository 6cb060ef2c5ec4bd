"""The evaluation runner: metric functions on hand-computed cases, dataset formats, a real run
of the gold set through the CLI (report files, resume, compare), feedback import, and the
judge against a real llama.cpp server."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.evaluation.compare import compare, paired_bootstrap, resamples_of
from assistant.evaluation.dataset import DatasetError, GoldItem, holds_evidence, load_dataset, load_gold, parse_mapping
from assistant.evaluation.feedback import candidates_from_feedback, propose_evidence
from assistant.evaluation.judge import Judge, parse_verdict
from assistant.evaluation.metrics import (
    citation_precision,
    citation_recall,
    key_fact_coverage,
    ndcg_at_k,
    percentile,
    reciprocal_rank,
    refusal_scores,
    retrieval_scores,
)
from assistant.evaluation.split import add_to_split, in_half, load_split, make_split, write_split
from assistant.evaluation.summary import breakdown, recall_curve, summarise
from assistant.pipeline import Assistant
from tests.conftest import ROOT

GOLD = ROOT / "evals" / "gold.jsonl"


# --- metric functions, by hand ------------------------------------------------------------------


def test_retrieval_metrics_on_hand_computed_cases() -> None:
    # relevant at ranks 2 and 4, three relevant passages exist in the index
    ranked = [False, True, False, True, False]
    scores = retrieval_scores(ranked, 3)
    assert scores["R@1"] == 0.0 and scores["R@5"] == 1.0 and scores["R@10"] == 1.0
    assert scores["MRR@10"] == 0.5
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert scores["nDCG@10"] == pytest.approx(dcg / ideal)
    # ties: two relevant passages at the top count once for recall and MRR, twice for nDCG
    assert retrieval_scores([True, True], 2) == {"R@1": 1.0, "R@5": 1.0, "R@10": 1.0, "MRR@10": 1.0,
                                                  "nDCG@10": pytest.approx(1.0)}
    # empty retrieval: every metric is 0, nothing divides by zero
    assert retrieval_scores([], 2) == {"R@1": 0.0, "R@5": 0.0, "R@10": 0.0, "MRR@10": 0.0, "nDCG@10": 0.0}
    assert ndcg_at_k([], 0) == 0.0
    # a relevant passage past k does not count
    assert reciprocal_rank([False] * 10 + [True], 10) == 0.0


def test_answer_metrics_on_hand_computed_cases() -> None:
    assert citation_precision([True, False, False, True]) == 0.5
    assert citation_precision([]) is None  # nothing cited: precision is undefined, not 0
    # 3 passages given, 2 hold evidence, the answer cites one of those two and one without
    assert citation_recall([True, False, True], [True, True, False]) == 0.5
    assert citation_recall([False, False], [True, False]) is None
    facts = [["seven recommendations", "七项建议"], ["2023年10月", "October 2023"]]
    assert key_fact_coverage("It made 七项 建议 [1].", facts) == 0.5  # whitespace is ignored
    assert key_fact_coverage("Seven Recommendations, set up in October 2023.", facts) == 1.0
    assert key_fact_coverage("anything", []) is None  # a question with no key facts


def test_refusal_metrics_including_all_refused_and_none_refused() -> None:
    answerable = [True, True, False, False]
    assert refusal_scores(answerable, [False, True, True, False]) == {
        "refusal_precision": 0.5, "refusal_recall": 0.5, "false_refusal_rate": 0.5}
    assert refusal_scores(answerable, [True] * 4) == {  # an all-refused run
        "refusal_precision": 0.5, "refusal_recall": 1.0, "false_refusal_rate": 1.0}
    assert refusal_scores(answerable, [False] * 4) == {
        "refusal_precision": None, "refusal_recall": 0.0, "false_refusal_rate": 0.0}
    assert refusal_scores([True], [False])["refusal_recall"] is None


def test_percentiles_and_summaries() -> None:
    assert percentile([10.0, 20.0, 30.0, 40.0], 50) == 25.0
    assert percentile([5.0, 5.0, 5.0], 95) == 5.0  # ties
    assert percentile([], 50) is None
    rows = [
        {"id": "a", "lang": "zh", "type": "factoid", "answerable": True, "refused": False, "R@5": 1.0,
         "R@10": 1.0, "first_relevant_rank": 2, "key_fact_coverage": 1.0, "total_ms": 10.0},
        {"id": "b", "lang": "en", "type": "factoid", "answerable": True, "refused": True, "R@5": 0.0,
         "R@10": 0.0, "first_relevant_rank": None, "key_fact_coverage": 0.0, "total_ms": 30.0},
        {"id": "c", "lang": "en", "type": "unanswerable", "answerable": False, "refused": True,
         "R@5": None, "key_fact_coverage": None, "total_ms": 20.0},
    ]
    table = breakdown(rows)
    assert table["all"]["R@5"] == 0.5 and table["all"]["key_fact_coverage"] == 0.5
    assert table["lang=en"]["refusal_precision"] == 0.5 and table["lang=en"]["refusal_recall"] == 1.0
    assert table["type=factoid"]["refusal_recall"] is None
    assert table["all"]["total_p50"] == 20.0 and table["all"]["faithfulness"] is None
    assert recall_curve(rows, 3) == [0.0, 0.5, 0.5]
    assert summarise([])["R@5"] is None


def test_paired_bootstrap_interval() -> None:
    a = [{"x": v} for v in [0.0] * 50 + [1.0] * 50]
    b = [{"x": 1.0} for _ in range(100)]

    def mean_x(rows: list[dict[str, float]]) -> float | None:
        return sum(r["x"] for r in rows) / len(rows) if rows else None

    diff, low, high = paired_bootstrap(a, b, mean_x, resamples_of(100, 500, seed=1))  # type: ignore[arg-type]
    assert diff == 0.5 and low is not None and high is not None and 0.35 < low < 0.5 < high < 0.65
    same = paired_bootstrap(a, a, mean_x, resamples_of(100, 200))  # type: ignore[arg-type]
    assert same == (0.0, 0.0, 0.0)


# --- datasets -----------------------------------------------------------------------------------


def test_csv_and_mapped_datasets(tmp_path: Path) -> None:
    csv_path = tmp_path / "set.csv"
    with csv_path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "lang", "question", "answerable", "docs", "evidence", "key_facts", "type"])
        writer.writerow(["c1", "zh", "咨询机构提出了几项建议？", "true", "002", "提出七项建议",
                         "七项建议|seven recommendations;2023|二〇二三", "numeric"])
        writer.writerow(["c2", "", "Who chairs the fund?", "no", "", "", "", ""])
    items = load_dataset(csv_path)
    assert items[0].key_facts == (("七项建议", "seven recommendations"), ("2023", "二〇二三"))
    assert items[0].docs == ("002",) and items[0].evidence == ("提出七项建议",)
    assert items[1].lang == "en" and not items[1].answerable and items[1].type == "unanswerable"

    rgb = tmp_path / "rgb.jsonl"
    rgb.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"qid": 7, "query": "When was the advisory body set up?", "answers": ["October 2023", "2023年10月"],
         "positive": ["机构于2023年10月成立", "a very long passage " * 30]},
        {"qid": 8, "query": "全球数字契约何时通过？", "answers": [["2024年9月"], ["未来峰会"]], "positive": []},
    ]) + "\n", encoding="utf-8")
    mapped = load_dataset(rgb, parse_mapping("id=qid,question=query,answer=answers,context=positive"))
    assert mapped[0].id == "7" and mapped[0].key_facts == (("October 2023", "2023年10月"),)
    assert mapped[0].evidence == ("机构于2023年10月成立",)  # long contexts are kept, not used as spans
    assert mapped[1].lang == "zh" and len(mapped[1].key_facts) == 2
    with pytest.raises(DatasetError, match="--map"):
        load_dataset(rgb)
    with pytest.raises(DatasetError, match="OURS=THEIRS"):
        parse_mapping("question")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "x", "question": "q"}\n{not json}\n', encoding="utf-8")
    with pytest.raises(DatasetError, match="line 2"):
        load_dataset(broken)


# --- a real run through the CLI -----------------------------------------------------------------


def _eval(*args: str, settings: Settings, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "ASSISTANT_CORPUS_DIR": str(settings.corpus_dir),
                "ASSISTANT_INDEX_DIR": str(settings.index_dir), "ASSISTANT_LLM": settings.llm, **(env or {})}
    return subprocess.run([sys.executable, "-m", "assistant.cli", "eval", *args], env=full_env, cwd=ROOT,
                          capture_output=True, text=True, timeout=900)


def test_a_run_writes_the_report_resumes_and_compares(corpus_assistant: Assistant, corpus_settings: Settings,
                                                      tmp_path: Path) -> None:
    base = tmp_path / "base"
    done = _eval("--dataset", str(GOLD), "--limit", "12", "--filter", "lang=en|zh", "--out", str(base), "-q",
                 settings=corpus_settings)
    assert done.returncode == 0, done.stderr
    for name in ("report.md", "results.json", "questions.csv", "recall_at_k.png", "metrics_by_language.png",
                 "metrics_by_type.png", "latency.png"):
        assert (base / name).stat().st_size > 0, name
    results = json.loads((base / "results.json").read_text(encoding="utf-8"))
    assert len(results["questions"]) == 12 and results["run"]["dataset_sha256"]
    assert {"all", "lang=en", "lang=zh"} <= set(results["metrics"])
    assert results["metrics"]["all"]["R@5"] is not None and results["metrics"]["all"]["citation_validity"] == 1.0
    assert "faiss-cpu" in results["versions"] and results["settings"]["llm"] == "extractive"
    report = (base / "report.md").read_text(encoding="utf-8")
    assert "## By question type" in report and results["run"]["dataset_sha256"][:16] in report
    with (base / "questions.csv").open(encoding="utf-8-sig") as handle:
        assert len(list(csv.DictReader(handle))) == 12

    # an interrupted run: the cache keeps 5 finished rows (one marked), and the last line cut short
    cache = base / ".cache" / "rows.jsonl"
    lines = cache.read_text(encoding="utf-8").splitlines()
    marked = json.loads(lines[1])
    marked["answer"] = "FROM THE CACHE"
    cache.write_text("\n".join([lines[0], json.dumps(marked, ensure_ascii=False), *lines[2:6], lines[6][:40]]),
                     encoding="utf-8")
    resumed = _eval("--dataset", str(GOLD), "--limit", "12", "--filter", "lang=en|zh", "--out", str(base),
                    "--resume", "-q", settings=corpus_settings)
    assert resumed.returncode == 0, resumed.stderr
    rows = json.loads((base / "results.json").read_text(encoding="utf-8"))["questions"]
    assert len(rows) == 12 and rows[0]["answer"] == "FROM THE CACHE"
    assert rows[5]["answer"] != "" and len({r["id"] for r in rows}) == 12
    other = _eval("--dataset", str(GOLD), "--limit", "12", "--out", str(base), "--resume", "-q",
                  settings=corpus_settings, env={"ASSISTANT_ANSWER_PASSAGES": "2"})
    assert other.returncode == 1 and "other settings" in other.stderr

    variant = tmp_path / "two-passages"
    done = _eval("--dataset", str(GOLD), "--limit", "12", "--out", str(variant), "-q", settings=corpus_settings,
                 env={"ASSISTANT_ANSWER_PASSAGES": "2"})
    assert done.returncode == 0, done.stderr
    compared = _eval("compare", str(base), str(variant), "--resamples", "200", settings=corpus_settings)
    assert compared.returncode == 0, compared.stderr
    assert "| Recall@5 |" in compared.stdout and "95 % CI" in compared.stdout
    written = json.loads((variant / "compare-vs-base.json").read_text(encoding="utf-8"))
    assert written["shared_questions"] == 12
    citation = next(d for d in written["differences"] if d["metric"] == "citation_recall")
    assert citation["ci_low"] <= citation["difference"] <= citation["ci_high"]


def test_bad_requests_say_what_to_change(corpus_settings: Settings, tmp_path: Path) -> None:
    missing = _eval("--dataset", str(tmp_path / "none.jsonl"), settings=corpus_settings)
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    nothing = _eval("--filter", "lang=fr", settings=corpus_settings)
    assert nothing.returncode == 1 and "no question is left" in nothing.stderr
    bad = _eval("--filter", "colour=red", settings=corpus_settings)
    assert bad.returncode == 1 and "FIELD=VALUE" in bad.stderr
    no_run = _eval("compare", str(tmp_path), str(tmp_path), settings=corpus_settings)
    assert no_run.returncode == 1 and "results.json" in no_run.stderr
    no_judge = _eval("--judge", "--limit", "1", settings=corpus_settings)
    assert no_judge.returncode == 1 and "judge model" in no_judge.stderr
    elsewhere = tmp_path / "elsewhere.jsonl"
    elsewhere.write_text(json.dumps({"id": "x", "question": "谁签署了宣言？", "answerable": False,
                                     "search_docs": ["999_not_here"]}) + "\n", encoding="utf-8")
    unknown = _eval("--dataset", str(elsewhere), "--out", str(tmp_path / "elsewhere"), settings=corpus_settings)
    assert unknown.returncode == 1 and "999_not_here" in unknown.stderr and "eval held-out" in unknown.stderr
    assert not (tmp_path / "elsewhere" / "results.json").exists()


def test_compare_lists_questions_that_changed() -> None:
    def row(qid: str, refused: bool, r5: float) -> dict[str, object]:
        return {"id": qid, "lang": "zh", "type": "factoid", "answerable": True, "question": qid, "refused": refused,
                "R@5": r5, "citations": [], "key_fact_coverage": None, "language_match": True}

    a = {"run": {"name": "a"}, "questions": [row("q1", False, 1.0), row("q2", False, 1.0), row("q3", False, 0.0)]}
    b = {"run": {"name": "b"}, "questions": [row("q1", False, 1.0), row("q2", True, 0.0), row("q4", False, 1.0)]}
    result = compare(a, b, resamples=50)
    assert result["shared_questions"] == 2 and result["only_in_a"] == 1 and result["only_in_b"] == 1
    assert [c["id"] for c in result["changed"]] == ["q2"]
    assert set(result["changed"][0]["changed"]) == {"refused", "found in top 5"}
    r5 = next(d for d in result["differences"] if d["metric"] == "R@5")
    assert r5["difference"] == -0.5


# --- feedback → candidate gold items ------------------------------------------------------------


def test_feedback_becomes_candidate_items(tmp_path: Path) -> None:
    passage = "峰会发布了《布莱奇利宣言》。包括中国、美国在内的28个国家和欧盟签署了该宣言。"
    records = [
        {"question": "布莱奇利宣言由多少个国家签署？", "lang": "zh", "refused": False, "rating": "down",
         "answer": "不知道", "citations": [], "comment": ""},
        {"question": "布莱奇利宣言由多少个国家签署？", "lang": "zh", "refused": False, "rating": "up",
         "answer": "包括中国、美国在内的28个国家和欧盟签署了该宣言 [1]。", "comment": "",
         "citations": [{"n": 1, "doc_id": "000", "text": passage}]},
        {"question": "布莱奇利宣言由多少个国家签署？", "rating": None, "comment": "数字要核对", "citations": []},
        {"question": "Who funds the AI Safety Institute in Kenya?", "lang": "en", "refused": True, "rating": "up",
         "answer": "The reports do not say.", "citations": []},
    ]
    candidates = candidates_from_feedback(records)
    assert len(candidates) == 2
    counted, absent = candidates
    assert counted["answerable"] and counted["docs"] == ["000"]
    assert counted["evidence"] == ["包括中国、美国在内的28个国家和欧盟签署了该宣言。"]
    assert counted["evidence"][0] in passage and counted["review"]["comments"] == ["数字要核对"]
    assert not absent["answerable"] and absent["type"] == "unanswerable"
    assert propose_evidence("completely unrelated words", passage) is None

    log = tmp_path / "feedback.jsonl"
    log.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n{cut", encoding="utf-8")
    out = tmp_path / "candidates.jsonl"
    for _ in range(2):  # importing twice adds nothing new
        done = subprocess.run([sys.executable, "-m", "assistant.cli", "eval", "import-feedback", str(log),
                               "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2


# --- the judge ----------------------------------------------------------------------------------


def test_judge_verdicts_are_parsed_or_left_empty() -> None:
    assert parse_verdict('{"score": 1, "reason": "all supported"}') == (1.0, "all supported")
    assert parse_verdict('Sure! {"score": 0.5, "reason": "partly"} Hope this helps.') == (0.5, "partly")
    assert parse_verdict('score: 0') == (0.0, "")
    assert parse_verdict("The answer is great.") == (None, "")
    assert parse_verdict('{"score": 7}') == (None, "")  # out of range is not a grade


@pytest.mark.slow
def test_judge_against_a_real_model(corpus_assistant: Assistant, corpus_settings: Settings,
                                    llama_server: str) -> None:
    judge = Judge(corpus_settings.model_copy(update={"llm": "openai", "llm_model": "gemma-3-270m",
                                                     "llm_base_url": llama_server, "llm_max_tokens": 48,
                                                     "llm_timeout": 300}))
    item = load_dataset(GOLD)[0]
    graded = judge.grade(item, corpus_assistant.ask(item.question))
    verdicts = graded["judge"]
    assert verdicts["model"] == "openai:gemma-3-270m"
    for purpose in ("faithfulness", "correctness"):
        assert verdicts[purpose]["raw"]  # the model's own words are kept, whatever they are
        assert graded[purpose] in (None, 0.0, 0.5, 1.0) or 0.0 <= graded[purpose] <= 1.0


def test_held_out_items_search_only_the_other_reports(corpus_assistant: Assistant, corpus_settings: Settings,
                                                      tmp_path: Path) -> None:
    gold = {item.id: item for item in load_dataset(GOLD)}
    source = tmp_path / "few.jsonl"
    source.write_text("".join(line + "\n" for line in GOLD.read_text(encoding="utf-8").splitlines()
                              if json.loads(line)["id"] in ("zh-015", "en-015", "en-096")), encoding="utf-8")
    out = tmp_path / "held_out.jsonl"
    made = _eval("held-out", "--from", str(source), "--out", str(out), settings=corpus_settings)
    assert made.returncode == 0, made.stderr
    rows = load_dataset(out)
    assert sorted(r.id for r in rows) == ["en-015-held-out", "zh-015-held-out"]  # none for the unanswerable one
    for row in rows:
        original = gold[row.id.removesuffix("-held-out")]
        assert not row.answerable and row.type == "unanswerable" and row.question == original.question
        assert row.search_docs and not set(row.search_docs) & set(original.docs)
        reachable = corpus_assistant.retrieve(row.question, 50, row.search_docs).passages
        assert not any(holds_evidence(original, p.text) for p in reachable)

    report = tmp_path / "held-out-run"
    done = _eval("--dataset", str(out), "--out", str(report), "-q", settings=corpus_settings)
    assert done.returncode == 0, done.stderr
    results = json.loads((report / "results.json").read_text(encoding="utf-8"))
    allowed = {row.id: set(row.search_docs) for row in rows}
    for row in results["questions"]:
        searched = {r["doc_id"] for r in row["retrieved"]}
        assert searched and searched <= allowed[row["id"]]
        # both are far below the calibrated score: refused, or answered with the weak-evidence notice
        assert row["refused"] or row["weak_evidence"], row["answer"]
    overall = results["metrics"]["all"]
    assert overall["weak_evidence_answerable"] is None  # no answerable question in this set
    answered = [row for row in results["questions"] if not row["refused"]]
    assert overall["weak_evidence_unanswerable"] == (1.0 if answered else None)


def test_the_dev_split_is_the_seeded_split_of_each_dev_set_and_a_later_set_joins_without_moving_any() -> None:
    stored = load_split()
    assert not stored["tune"] & stored["check"]
    for name in ("gold.jsonl", "dev2.jsonl"):
        items = load_gold(ROOT / "evals" / name)
        again = make_split(items)
        assert set(again["tune"]) <= stored["tune"] and set(again["check"]) <= stored["check"]
        for lang in ("zh", "en"):  # each language × answerable group halved
            for answerable in (True, False):
                group = [i for i in items if i.lang == lang and i.answerable is answerable]
                in_tune = sum(i.id in stored["tune"] for i in group)
                assert len(group) // 2 == in_tune


def test_adding_a_set_to_the_split_keeps_the_halves_and_refuses_items_already_split(tmp_path: Path) -> None:
    path = tmp_path / "split.json"
    first = [GoldItem(id=f"a-{n}", lang="zh", question="问题？", answerable=n % 2 == 0) for n in range(8)]
    write_split(first, path)
    before = load_split(path)
    later = [GoldItem(id=f"b-{n}", lang="en", question="Question?", answerable=True) for n in range(6)]
    added = add_to_split(later, path)
    after = load_split(path)
    assert before["tune"] <= after["tune"] and before["check"] <= after["check"]
    assert len(added["tune"]) == len(added["check"]) == 3
    assert {i.id for i in in_half(later, "tune", path)} == set(added["tune"])
    with pytest.raises(ValueError, match="already in a half"):
        add_to_split(first[:1], path)
    assert load_split(path) == after  # nothing written
