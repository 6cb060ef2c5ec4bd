"""Turn the chat page's feedback log (JSONL: question, answer, citations, rating, comment) into
candidate gold items for a person to review: evidence spans are proposed from the passages the
approved answer cited, and each candidate carries the rating and comments that produced it."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from assistant.evaluation.dataset import GoldItem
from assistant.language import detect_lang, match_key

_SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]?")
_MARKER = re.compile(r"\[\d+(?:[,，\-–]\s*\d+)*\]|^>\s*", re.M)


def read_feedback(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise FileNotFoundError(f"no feedback file at {path}: ratings from the chat page are written there")
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short when the page stopped
        if isinstance(record, dict) and str(record.get("question", "")).strip():
            records.append(record)
    return records


def propose_evidence(answer: str, passage_text: str) -> str | None:
    """A verbatim span (≤ 40 characters) of the passage sentence that shares most characters with
    the answer; None when no sentence shares enough to be a plausible source."""
    said = set(match_key(_MARKER.sub("", answer)))
    best, best_overlap = None, 0.0
    for match in _SENTENCE.finditer(passage_text):
        sentence = match.group(0).strip()
        key = match_key(sentence)
        if len(key) < 8:
            continue
        overlap = sum(ch in said for ch in key) / len(key)
        if overlap > best_overlap:
            best, best_overlap = sentence, overlap
    if best is None or best_overlap < 0.5:
        return None
    return best[:40].strip()


def candidates_from_feedback(records: Iterable[dict[str, Any]],
                             known: Iterable[GoldItem] = ()) -> list[dict[str, Any]]:
    """One candidate per distinct question not already in `known`; the last rating counts,
    every comment is kept."""
    seen = {match_key(item.question) for item in known}
    by_question: dict[str, dict[str, Any]] = {}
    for record in records:
        key = match_key(str(record["question"]))
        if key in seen:
            continue
        entry = by_question.setdefault(key, {"record": record, "ratings": [], "comments": []})
        if record.get("rating"):
            entry["ratings"].append(record["rating"])
            entry["record"] = record  # the answer that was rated last
        if str(record.get("comment", "")).strip():
            entry["comments"].append(str(record["comment"]).strip())
    out = []
    for key, entry in by_question.items():
        record = entry["record"]
        question = str(record["question"]).strip()
        rating = entry["ratings"][-1] if entry["ratings"] else None
        refused = bool(record.get("refused"))
        citations = record.get("citations") or []
        evidence: list[str] = []
        if rating == "up" and not refused:
            for citation in citations[:3]:
                span = propose_evidence(str(record.get("answer", "")), str(citation.get("text", "")))
                if span and span not in evidence:
                    evidence.append(span)
        answerable = not (refused and rating == "up")  # an approved "not in the reports"
        note = {"up": "the answer was approved: check the proposed evidence and add key facts",
                "down": "the answer was rejected: find the right passage, or mark the question unanswerable",
                None: "commented only: decide what the right answer is"}[rating]
        out.append({
            "id": "fb-" + hashlib.sha256(key.encode()).hexdigest()[:8],
            "lang": record.get("lang") or detect_lang(question),
            "question": question,
            "answerable": answerable,
            "docs": sorted({str(c.get("doc_id")) for c in citations if c.get("doc_id")}) if answerable else [],
            "evidence": evidence,
            "key_facts": [],
            "type": "factoid" if answerable else "unanswerable",
            "review": {"status": "candidate", "todo": note, "rating": rating, "comments": entry["comments"],
                       "answer": record.get("answer", ""), "llm": record.get("llm", ""),
                       "time": record.get("time", "")},
        })
    return out
