"""The dev set's one fixed split into a tune half and a check half.

A change to the answer layer (a check, a weight, a prompt line, a glossary entry) is kept only if
it helps the check half as well as the tune half it was made on. The split is made once, by a
fixed seed, within each language × answerable/unanswerable group, and written to
`evals/split.json`; derived items ("zh-001-held-out") follow the item they were made from. A later
dev set (`evals/dev2.jsonl`) is split the same way and added to the same two halves.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

from assistant.atomic import write_atomic
from assistant.evaluation.dataset import GoldItem

SEED = 20261204
HALVES = ("tune", "check")
SPLIT_FILE = Path(__file__).resolve().parents[2] / "evals" / "split.json"


def make_split(items: Sequence[GoldItem], seed: int = SEED) -> dict[str, list[str]]:
    """Half of each language × answerable group, shuffled by `seed`, to each half (the odd one
    of a group goes to the check half)."""
    groups: dict[tuple[str, bool], list[str]] = {}
    for item in items:
        groups.setdefault((item.lang, item.answerable), []).append(item.id)
    rng = random.Random(seed)
    split: dict[str, list[str]] = {half: [] for half in HALVES}
    for key in sorted(groups):
        ids = sorted(groups[key])
        rng.shuffle(ids)
        middle = len(ids) // 2
        split["tune"] += sorted(ids[:middle])
        split["check"] += sorted(ids[middle:])
    return split


def write_split(items: Sequence[GoldItem], path: Path = SPLIT_FILE, seed: int = SEED) -> dict[str, list[str]]:
    split = make_split(items, seed)
    write_atomic(path, json.dumps({"seed": seed, **split}, ensure_ascii=False, indent=1) + "\n")
    return split


def add_to_split(items: Sequence[GoldItem], path: Path = SPLIT_FILE, seed: int = SEED) -> dict[str, list[str]]:
    """Split items of a later dev set (none of them in a half yet) the same way, by the same seed,
    and add them to the halves; the items already split stay where they are."""
    data = json.loads(path.read_text(encoding="utf-8"))
    known = set(data["tune"]) | set(data["check"])
    clash = [item.id for item in items if item.id in known]
    if clash:
        raise ValueError(f"already in a half: {', '.join(clash[:5])}")
    added = make_split(items, seed)
    merged = {half: sorted([*data[half], *added[half]]) for half in HALVES}
    write_atomic(path, json.dumps({"seed": seed, **merged}, ensure_ascii=False, indent=1) + "\n")
    return added


def load_split(path: Path = SPLIT_FILE) -> dict[str, set[str]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {half: set(data[half]) for half in HALVES}


def base_id(item_id: str) -> str:
    """The dev item a derived one was made from ("zh-001-held-out" → "zh-001")."""
    return item_id.removesuffix("-held-out")


def in_half(items: Iterable[GoldItem], half: str, path: Path = SPLIT_FILE) -> list[GoldItem]:
    """The items of one half ("tune" or "check"); items of no half (another dataset) are kept out."""
    if half not in HALVES:
        raise ValueError(f"unknown half {half!r}: use tune or check")
    ids = load_split(path)[half]
    return [item for item in items if base_id(item.id) in ids]
