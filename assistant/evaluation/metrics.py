"""Retrieval metrics over binary relevance lists (best-ranked first).

Each function takes, for one question, the relevance of the returned passages in rank order
and (for nDCG) how many relevant passages exist in total; averaging is done by the caller.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from statistics import fmean


def recall_at_k(relevant: Sequence[bool], k: int) -> float:
    """1 if a relevant passage is among the first k, else 0 (hit rate: one passage answers)."""
    return 1.0 if any(relevant[:k]) else 0.0


def reciprocal_rank(relevant: Sequence[bool], k: int = 10) -> float:
    """1/rank of the first relevant passage within the first k, 0 if none."""
    for rank, is_relevant in enumerate(relevant[:k], start=1):
        if is_relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(relevant: Sequence[bool], n_relevant: int, k: int = 10) -> float:
    """Binary-relevance nDCG@k; `n_relevant` is how many relevant passages exist in the index.

    0 when nothing relevant exists (such questions are excluded from retrieval averages by the
    caller, e.g. unanswerable items)."""
    dcg = sum(1.0 / math.log2(rank + 1) for rank, rel in enumerate(relevant[:k], start=1) if rel)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(n_relevant, k) + 1))
    return dcg / ideal if ideal > 0 else 0.0


def retrieval_scores(relevant: Sequence[bool], n_relevant: int) -> dict[str, float]:
    return {
        "R@1": recall_at_k(relevant, 1),
        "R@5": recall_at_k(relevant, 5),
        "R@10": recall_at_k(relevant, 10),
        "MRR@10": reciprocal_rank(relevant, 10),
        "nDCG@10": ndcg_at_k(relevant, max(n_relevant, sum(relevant[:10])), 10),
    }


def mean_by(rows: Iterable[dict[str, object]], group: Callable[[dict[str, object]], str],
            metrics: Sequence[str]) -> dict[str, dict[str, float]]:
    """Average each metric over rows, per group (e.g. per language) and over all ("all")."""
    buckets: dict[str, list[dict[str, object]]] = defaultdict(list)
    for row in rows:
        buckets["all"].append(row)
        buckets[group(row)].append(row)
    out: dict[str, dict[str, float]] = {}
    for name, members in buckets.items():
        out[name] = {"n": float(len(members))}
        for metric in metrics:
            values = [float(m[metric]) for m in members if m.get(metric) is not None]  # type: ignore[arg-type]
            out[name][metric] = fmean(values) if values else float("nan")
    return out


# --- answers ------------------------------------------------------------------------------------


def citations_resolve(answer_text: str, n_citations: int) -> bool:
    """Every [n] in the answer points to one of its citations."""
    from assistant.citations import parse_markers

    return all(1 <= n <= n_citations for _, _, numbers in parse_markers(answer_text) for n in numbers)


def language_matches(answer_text: str, lang: str) -> bool:
    """The answer's own words (quoted source lines excluded) are in the question's language."""
    from assistant.citations import answer_language_text
    from assistant.language import detect_lang

    own = answer_language_text(answer_text)
    return detect_lang(own, default=lang) == lang  # type: ignore[arg-type]


def key_fact_coverage(answer_text: str, key_facts: Sequence[Sequence[str]], widened: bool = False) -> float | None:
    """Share of key facts of which some accepted surface form appears in the answer (None: no facts).

    `widened` also accepts, for every item alike, what a correct answer written in other words
    says: the same figure in another script ("seven" for "七项"), an English form's words in any
    order and inflection, and a Chinese form's English glossary name ("Bletchley" for "布莱切利")."""
    from assistant.language import match_key

    if not key_facts:
        return None
    text = match_key(answer_text).lower()
    hits = 0
    for fact in key_facts:
        if any(match_key(form).lower() in text for form in fact) or (widened and _found_widened(answer_text, fact)):
            hits += 1
    return hits / len(key_facts)


def _found_widened(answer_text: str, forms: Sequence[str]) -> bool:
    from assistant.glossary import Glossary
    from assistant.language import cjk_count, numbers_in
    from assistant.lexical import is_stop_word, stem

    answer_numbers = numbers_in(answer_text)
    answer_stems = {stem(w) for w in re.findall(r"[a-z]+", answer_text.lower())}
    glossary = Glossary.default()
    for form in forms:
        numbers = numbers_in(form)
        rest = re.sub(r"[\d.,，%％]+|[零〇一二两三四五六七八九十百千万亿]+", "", form)
        if numbers and numbers <= answer_numbers and len(rest.strip()) <= 2:  # "七项", "7 recommendations"
            return True
        words = [w for w in re.findall(r"[a-z]+", form.lower()) if not is_stop_word(w)]
        if words and not cjk_count(form) and all(stem(w) in answer_stems for w in words):
            return True
        if cjk_count(form):
            for _, term in glossary.match_zh(form):
                for english in term.en:
                    names = [w for w in re.findall(r"[a-z]+", english.lower()) if not is_stop_word(w)]
                    if names and all(stem(w) in answer_stems for w in names):
                        return True
    return False


def prose_in_language(answer_text: str, lang: str) -> bool:
    """The whole answer — quotations included — reads in `lang`: a Chinese quote is not an English
    answer, though a Chinese name in an English sentence is."""
    from assistant.citations import _MARKER
    from assistant.language import detect_lang
    from assistant.types import Lang

    own: Lang = "zh" if lang == "zh" else "en"
    text = _MARKER.sub("", answer_text)
    quoted_other = any(line.lstrip().startswith(">") and detect_lang(line.lstrip("> "), default=own) != own
                       for line in text.splitlines())
    return not quoted_other and detect_lang(text, default=own) == own


def citation_precision(cited_holds_evidence: Sequence[bool]) -> float | None:
    """Share of the cited passages that hold the item's evidence (None: nothing cited)."""
    return sum(cited_holds_evidence) / len(cited_holds_evidence) if cited_holds_evidence else None


def citation_recall(context_holds_evidence: Sequence[bool], cited: Sequence[bool]) -> float | None:
    """Of the passages given to the answer step that hold evidence, the share the answer cites
    (None: none of them holds evidence, so there was nothing to cite)."""
    bearing = [was_cited for holds, was_cited in zip(context_holds_evidence, cited, strict=True) if holds]
    return sum(bearing) / len(bearing) if bearing else None


def refusal_scores(answerable: Sequence[bool], refused: Sequence[bool]) -> dict[str, float | None]:
    """Refusal precision (refusals that were right), recall (unanswerable questions refused) and
    the false-refusal rate (answerable questions refused); None where the denominator is 0."""
    pairs = list(zip(answerable, refused, strict=True))
    right = sum(1 for a, r in pairs if r and not a)
    n_refused = sum(1 for _, r in pairs if r)
    n_unanswerable = sum(1 for a, _ in pairs if not a)
    n_answerable = len(pairs) - n_unanswerable
    return {
        "refusal_precision": right / n_refused if n_refused else None,
        "refusal_recall": right / n_unanswerable if n_unanswerable else None,
        "false_refusal_rate": sum(1 for a, r in pairs if r and a) / n_answerable if n_answerable else None,
    }


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0–100) with linear interpolation between ranks, as numpy's default."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
