"""Gold sets: loading them, checking them, and judging whether a passage holds an item's evidence."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.language import match_key

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
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GoldItem:
        known = {"id", "lang", "question", "answerable", "docs", "evidence", "key_facts", "type"}
        return cls(
            id=str(data["id"]),
            lang=str(data.get("lang", "")),
            question=str(data["question"]),
            answerable=bool(data.get("answerable", True)),
            docs=tuple(str(d) for d in data.get("docs", [])),
            evidence=tuple(str(e) for e in data.get("evidence", [])),
            key_facts=tuple(tuple(str(f) for f in fact) for fact in data.get("key_facts", [])),
            type=str(data.get("type", "factoid")),
            extra={k: v for k, v in data.items() if k not in known},
        )

    def evidence_keys(self) -> list[str]:
        return [match_key(span) for span in self.evidence]


def load_gold(path: Path) -> list[GoldItem]:
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(GoldItem.from_dict(json.loads(line)))
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise ValueError(f"{path}:{number}: not a gold item ({err})") from err
    return items


def holds_evidence(item: GoldItem, passage_text: str) -> bool:
    """Does the passage contain at least one of the item's evidence spans (whitespace ignored)?"""
    key = match_key(passage_text)
    return any(span in key for span in item.evidence_keys())


def relevance(item: GoldItem, passages: Iterable[str]) -> list[bool]:
    return [holds_evidence(item, text) for text in passages]
