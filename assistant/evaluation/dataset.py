"""Gold sets: loading them (the gold-set JSONL, a CSV with the same columns, or another JSONL
layout through a field mapping), checking them, and judging whether a passage holds an item's
evidence."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.language import detect_lang, match_key

TYPES = ("factoid", "list", "numeric", "definition", "cross-doc", "summary", "unanswerable")


@dataclass(frozen=True)
class GoldItem:
    id: str
    lang: str
    question: str
    answerable: bool
    docs: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    key_facts: tuple[tuple[str, ...], ...] = ()
    type: str = "factoid"
    search_docs: tuple[str, ...] = ()  # ask with the search limited to these reports (empty: all)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GoldItem:
        known = {"id", "lang", "question", "answerable", "docs", "evidence", "key_facts", "type", "search_docs"}
        return cls(
            id=str(data["id"]),
            lang=str(data.get("lang", "")),
            question=str(data["question"]),
            answerable=bool(data.get("answerable", True)),
            docs=tuple(str(d) for d in data.get("docs", [])),
            evidence=tuple(str(e) for e in data.get("evidence", [])),
            key_facts=tuple(tuple(str(f) for f in fact) for fact in data.get("key_facts", [])),
            type=str(data.get("type", "factoid")),
            search_docs=tuple(str(d) for d in data.get("search_docs", []) or []),
            extra={k: v for k, v in data.items() if k not in known},
        )

    def evidence_keys(self) -> list[str]:
        return [match_key(span) for span in self.evidence]


class DatasetError(ValueError):
    """A dataset file that cannot be used; the message names the file, the line and the fix."""


FIELDS = ("id", "lang", "question", "answerable", "docs", "evidence", "key_facts", "type", "search_docs")
# a mapping may name these (other layouts' names for them) besides the gold-set fields
ALIASES = {"answer": "key_facts", "context": "evidence"}


def load_gold(path: Path) -> list[GoldItem]:
    """The gold-set JSONL (strict: every line must be a gold item)."""
    return load_dataset(path)


def load_dataset(path: Path, mapping: Mapping[str, str] | None = None) -> list[GoldItem]:
    """Items from a gold-set JSONL, a CSV with the same columns, or any JSONL whose field names
    `mapping` translates (``{"question": "query", "answer": "answers", "context": "positive"}``)."""
    if not path.is_file():
        raise DatasetError(f"dataset {path} does not exist")
    rows = _csv_rows(path) if path.suffix.lower() == ".csv" else _jsonl_rows(path)
    items: list[GoldItem] = []
    seen: set[str] = set()
    for where, row in rows:
        try:
            item = GoldItem.from_dict(_mapped(row, mapping or {}, len(items) + 1))
        except (KeyError, TypeError, ValueError) as err:
            hint = "" if mapping else " (another layout? map its fields with --map question=FIELD,...)"
            raise DatasetError(f"{path}, {where}: not a usable item: {err}{hint}") from err
        if item.id in seen:
            raise DatasetError(f"{path}, {where}: the id '{item.id}' is used twice")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise DatasetError(f"dataset {path} holds no items")
    return items


def dataset_hash(path: Path) -> str:
    """SHA-256 of the file's bytes: the report names exactly which dataset it measured."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def parse_mapping(text: str) -> dict[str, str]:
    """``question=query,answer=answers`` → {"question": "query", "answer": "answers"}."""
    mapping: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        ours, sep, theirs = part.partition("=")
        if not sep or not theirs.strip() or ours.strip() not in (*FIELDS, *ALIASES):
            raise DatasetError(f"'{part}' is not a field mapping: write OURS=THEIRS with OURS one of "
                               f"{', '.join((*FIELDS, *ALIASES))}")
        mapping[ours.strip()] = theirs.strip()
    return mapping


def _jsonl_rows(path: Path) -> Iterable[tuple[str, dict[str, Any]]]:
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise DatasetError(f"{path}, line {number}: not valid JSON ({err.msg})") from err
        if not isinstance(row, dict):
            raise DatasetError(f"{path}, line {number}: each line must be a JSON object")
        yield f"line {number}", row


def _csv_rows(path: Path) -> Iterable[tuple[str, dict[str, Any]]]:
    """CSV cells: lists as JSON (``["002", "003"]``) or separated by ``|``; key facts as JSON
    (a list of lists) or facts separated by ``;`` and each fact's forms by ``|``."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            out: dict[str, Any] = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            for name in ("docs", "evidence", "search_docs"):
                if name in out:
                    out[name] = _cell_list(out[name])
            if "key_facts" in out:
                cell = out["key_facts"]
                out["key_facts"] = (json.loads(cell) if cell.startswith("[") else
                                    [[f.strip() for f in fact.split("|") if f.strip()]
                                     for fact in cell.split(";") if fact.strip()])
            if "answerable" in out:
                out["answerable"] = _truthy(out["answerable"])
            yield f"row {number}", out


def _cell_list(cell: str) -> list[str]:
    if cell.startswith("["):
        return [str(v) for v in json.loads(cell)]
    return [part.strip() for part in cell.split("|") if part.strip()]


def _truthy(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y", "是", ""):
        return True
    if text in ("0", "false", "no", "n", "否"):
        return False
    raise ValueError(f"answerable must be true or false, not '{value}'")


def _as_facts(value: object) -> list[list[str]]:
    """An answer field of another layout as key facts: a string is one fact; a list of strings
    is one fact's accepted forms; a list of lists is several facts."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [[value]]
    if isinstance(value, list):
        if all(isinstance(v, list) for v in value):
            return [[str(f) for f in fact] for fact in value if fact]
        return [[str(v) for v in value if str(v).strip()]] if any(str(v).strip() for v in value) else []
    return [[str(value)]]


def _mapped(row: dict[str, Any], mapping: Mapping[str, str], number: int) -> dict[str, Any]:
    """A row in gold-set field names, filling what another layout lacks."""
    if not mapping:
        data = dict(row)
    else:
        data = {k: v for k, v in row.items() if k not in mapping.values()}
        for ours, theirs in mapping.items():
            if theirs not in row:
                raise KeyError(f"the field '{theirs}' (mapped to {ours}) is missing")
            value = row[theirs]
            if ours == "answer":
                data["key_facts"] = _as_facts(value)
            elif ours == "context":  # passages of another set: kept, and used as evidence when short
                contexts = value if isinstance(value, list) else [value]
                data["context"] = [str(c) for c in contexts]
                data.setdefault("evidence", [str(c) for c in contexts if 8 <= len(str(c)) <= 200])
            else:
                data[ours] = value
    if "question" not in data or not str(data["question"]).strip():
        raise KeyError("it has no question")
    data.setdefault("id", f"item-{number:04d}")
    if not data.get("lang"):
        data["lang"] = detect_lang(str(data["question"]))
    if data["lang"] not in ("zh", "en"):
        raise ValueError(f"lang must be zh or en, not '{data['lang']}'")
    data["answerable"] = _truthy(data.get("answerable", True))
    if not data.get("type"):
        data["type"] = "factoid" if data["answerable"] else "unanswerable"
    return data


def holds_evidence(item: GoldItem, passage_text: str) -> bool:
    """Does the passage contain at least one of the item's evidence spans (whitespace ignored)?"""
    key = match_key(passage_text)
    return any(span in key for span in item.evidence_keys())


def relevance(item: GoldItem, passages: Iterable[str]) -> list[bool]:
    return [holds_evidence(item, text) for text in passages]
