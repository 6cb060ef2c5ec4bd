"""Run a dataset through the `Assistant` and score every question: the retrieval it did, the
answer it gave, how fast. Rows are appended to a per-question cache as they are made, so an
interrupted run continues where it stopped (`--resume`)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from assistant.atomic import write_atomic
from assistant.evaluation.dataset import GoldItem, holds_evidence
from assistant.evaluation.metrics import (
    citation_precision,
    citation_recall,
    citations_resolve,
    key_fact_coverage,
    language_matches,
    prose_in_language,
    retrieval_scores,
)
from assistant.generation import BackendError, find_choice
from assistant.language import match_key
from assistant.pipeline import Assistant
from assistant.types import Answer, Passage

log = logging.getLogger(__name__)

RETRIEVAL_K = 10


class ResumeError(RuntimeError):
    """The cached rows were made with other settings or another dataset."""


def score_question(item: GoldItem, answer: Answer, retrieved: Sequence[Passage], n_relevant: int,
                   backend: str = "extractive") -> dict[str, Any]:
    """One question's row: what was retrieved and answered, and every per-question metric
    (None where a metric does not apply to this question). `backend`: the one asked to answer."""
    relevant = [holds_evidence(item, p.text) for p in retrieved]
    has_evidence = item.answerable and bool(item.evidence)
    scores: dict[str, float | None] = dict.fromkeys(("R@1", "R@5", "R@10", "MRR@10", "nDCG@10"))
    if has_evidence:
        scores.update(retrieval_scores(relevant, n_relevant))
    first = next((rank for rank, rel in enumerate(relevant, start=1) if rel), None)

    cited_ids = {c.passage.chunk_id for c in answer.citations}
    cited_holds = [holds_evidence(item, c.passage.text) for c in answer.citations]
    context = list(answer.passages)
    coverage = key_fact_coverage(answer.answer, item.key_facts) if item.answerable else None
    widened = key_fact_coverage(answer.answer, item.key_facts, widened=True) if item.answerable else None
    if coverage is not None and answer.refused:
        coverage = widened = 0.0  # refusing an answerable question states none of its facts
    return {
        "id": item.id, "lang": item.lang, "type": item.type, "answerable": item.answerable,
        "question": item.question, "answer": answer.answer, "refused": answer.refused, "llm": answer.llm,
        "notices": list(answer.notices),
        # a model was asked, but the quotes stand in (weak-evidence notices are no fallbacks)
        "fallback": backend != "extractive" and answer.llm == "extractive" and not answer.refused,
        # … and the model translated the quotes that were in the other language
        "translated": any(key == "model_failed_translated" for key, _ in answer.notice_keys),
        # … of which shown unchecked (marked ⚠: no figure or yes/no against the source, short of the bar)
        "unchecked_translations": sum(1 for s in answer.sentences if answer.llm == "extractive"
                                      and s.citations and not s.supported and not s.removed),
        "answerable_probability": answer.answerable_probability,
        "stated_sentences": answer.stated_sentences, "unsupported_sentences": answer.unsupported_sentences,
        "prose_in_language": None if answer.refused else prose_in_language(answer.answer, item.lang),
        "weak_evidence": answer.weak_evidence,
        "retrieved": [{"chunk_id": p.chunk_id, "doc_id": p.doc_id, "relevant": rel}
                      for p, rel in zip(retrieved, relevant, strict=True)],
        "n_relevant": n_relevant, "first_relevant_rank": first if has_evidence else None, **scores,
        "citations": [{"n": c.n, "chunk_id": c.passage.chunk_id, "doc_id": c.passage.doc_id,
                       "holds_evidence": holds} for c, holds in zip(answer.citations, cited_holds, strict=True)],
        "key_fact_coverage": coverage, "key_fact_coverage_widened": widened,
        "citations_valid": None if answer.refused else citations_resolve(answer.answer, len(answer.citations)),
        "citation_precision": citation_precision(cited_holds) if has_evidence and not answer.refused else None,
        "citation_recall": (citation_recall([holds_evidence(item, p.text) for p in context],
                                            [p.chunk_id in cited_ids for p in context])
                            if has_evidence and not answer.refused else None),
        "supported_share": answer.supported_share,
        "language_match": language_matches(answer.answer, item.lang),
        "first_token_ms": answer.timings_ms.get("first_token", answer.timings_ms.get("total", 0.0)),
        "total_ms": answer.timings_ms.get("total", 0.0),
    }


@dataclass
class RunCache:
    """``rows.jsonl`` in the report folder's ``.cache``: a header naming the run's fingerprint,
    then one row per finished question (a line cut short by a kill is ignored)."""

    path: Path
    fingerprint: str
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def open(cls, folder: Path, fingerprint: str, resume: bool) -> RunCache:
        path = folder / ".cache" / "rows.jsonl"
        cache = cls(path, fingerprint)
        if resume and path.exists():
            lines = path.read_text(encoding="utf-8").splitlines()
            header = json.loads(lines[0]) if lines else {}
            if header.get("fingerprint") != fingerprint:
                raise ResumeError(f"the interrupted run in {folder} used other settings or another dataset: "
                                  "run without --resume to start again, or choose another --out")
            for line in lines[1:]:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # the line being written when the run was stopped
                cache.rows[row["id"]] = row
            log.info("resuming: %d questions already done", len(cache.rows))
        path.parent.mkdir(parents=True, exist_ok=True)
        if not cache.rows:
            path.write_text(json.dumps({"fingerprint": fingerprint}) + "\n", encoding="utf-8")
        else:  # rewrite without the cut line, so appends start on a line of their own; atomically,
            # so that a kill during the rewrite cannot lose the questions already done
            body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in cache.rows.values())
            write_atomic(path, json.dumps({"fingerprint": fingerprint}) + "\n" + body, durable=True)
        return cache

    def add(self, row: dict[str, Any]) -> None:
        self.rows[row["id"]] = row
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def fingerprint(settings_dump: dict[str, Any], dataset_sha: str, index_version: str, judge: str) -> str:
    blob = json.dumps({"settings": settings_dump, "dataset": dataset_sha, "index": index_version, "judge": judge},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class EvaluationRunner:
    def __init__(self, assistant: Assistant, *, llm: str | None = None,
                 judge: Callable[[GoldItem, Answer], dict[str, Any]] | None = None, seed: int = 0,
                 progress: bool = True) -> None:
        self.assistant = assistant
        self.llm = llm
        self.judge = judge
        self.seed = seed
        self.progress = progress
        self._chunk_keys: list[str] | None = None
        try:  # which backend was asked for ("auto" stands for the local model or quotes)
            self.backend = find_choice(assistant.settings, llm).backend
        except BackendError:
            self.backend = "extractive"

    def relevant_count(self, item: GoldItem) -> int:
        """How many passages in the whole index hold the item's evidence (the ideal for nDCG)."""
        if self._chunk_keys is None:
            self._chunk_keys = [match_key(c.chunk.text) for c in self.assistant.index.store.all_chunks()]
        spans = item.evidence_keys()
        return sum(1 for key in self._chunk_keys if any(span in key for span in spans))

    def run_one(self, item: GoldItem) -> dict[str, Any]:
        started = time.perf_counter()
        doc_ids = item.search_docs or None
        retrieved = self.assistant.retrieve(item.question, RETRIEVAL_K, doc_ids).passages
        retrieve_ms = (time.perf_counter() - started) * 1000
        try:
            answer = self.assistant.ask(item.question, llm=self.llm, doc_ids=doc_ids)
        except Exception as err:  # one bad question is a row with an error, not a lost run
            log.warning("%s: %s", item.id, err)
            return {"id": item.id, "lang": item.lang, "type": item.type, "answerable": item.answerable,
                    "question": item.question, "error": f"{type(err).__name__}: {err}", "refused": False}
        row = score_question(item, answer, retrieved, self.relevant_count(item) if item.evidence else 0,
                             self.backend)
        row["retrieve_ms"] = round(retrieve_ms, 2)
        if self.judge is not None:
            row.update(self.judge(item, answer))
        return row

    def run(self, items: Sequence[GoldItem], cache: RunCache) -> list[dict[str, Any]]:
        random.seed(self.seed)
        np.random.seed(self.seed)
        todo = [item for item in items if item.id not in cache.rows]
        if todo:  # one-time loading costs (dictionaries, models) are not any question's latency
            self.assistant.warm_up()
            self.assistant.ask(todo[0].question, llm=self.llm)
        with tqdm(total=len(items), initial=len(items) - len(todo), desc="evaluating", unit="q",
                  disable=not self.progress, dynamic_ncols=True) as bar:
            for item in todo:
                cache.add(self.run_one(item))
                bar.update(1)
        return [cache.rows[item.id] for item in items]
