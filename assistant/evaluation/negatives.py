"""Unanswerable questions made from answerable ones: the same question, asked with the reports
that answer it left out of the search (`search_docs` lists the rest).

This is the everyday case of "the reports do not hold the answer" (the report was never added,
or the user picked other reports), and it gives many more unanswerable items than a hand-written
set. An item is kept only if no passage that the restricted search would see holds its evidence,
so that another report quoting the same text does not make a wrong label.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from assistant.evaluation.dataset import GoldItem, holds_evidence

if TYPE_CHECKING:
    from assistant.pipeline import Assistant

LEAK_DEPTH = 50  # passages of the restricted search checked for the item's evidence


def held_out_items(assistant: Assistant, items: Sequence[GoldItem]) -> Iterator[dict[str, Any]]:
    """One unanswerable item (as a dataset row) per answerable item whose evidence is out of
    reach once its reports are left out."""
    all_docs = sorted(assistant.index.documents)
    for item in items:
        if not item.answerable or not item.docs or not item.evidence:
            continue
        rest = [doc for doc in all_docs if doc not in item.docs]
        if not rest:
            continue
        reachable = assistant.retrieve(item.question, LEAK_DEPTH, rest).passages
        if any(holds_evidence(item, passage.text) for passage in reachable):
            continue
        yield {"id": f"{item.id}-held-out", "lang": item.lang, "question": item.question,
               "answerable": False, "docs": [], "evidence": [], "key_facts": [], "type": "unanswerable",
               "search_docs": rest, "held_out_docs": list(item.docs)}
