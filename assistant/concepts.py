"""What a text says, as concepts in both languages, and how much of it another text holds.

A concept is a glossary term or a word with its dictionary translations, weighted by how rare
its forms are in the index. An evidence text holds a concept when it has any of its forms, in
either language: a Chinese word also stands for its dictionary glosses. Attribution uses it to
see which evidence an answer sentence restates; answerability, to see how much of what a
question asks about the evidence names at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

from assistant.glossary import Glossary, chinese_to_english, english_to_chinese, is_pinyin, spelled_by
from assistant.language import cjk_count, is_number_word, normalize_for_match
from assistant.lazy import once
from assistant.lexical import is_stop_word, lemmas, stem, tokenize
from assistant.types import Lang

CURRENCIES_FILE = Path(__file__).parent / "data" / "currencies.txt"


@dataclass(frozen=True)
class Concept:
    """One thing a sentence says, in both languages: a glossary term, or a word with its
    dictionary translations. It is covered by an evidence sentence holding any of its forms."""

    weight: float
    zh: frozenset[str]  # Chinese forms, matched as substrings of the evidence (normalised)
    en: frozenset[str]  # English word stems, matched against the evidence's words
    name: bool = False  # a proper name (a glossary term written capitalised): the evidence must name it too
    spelled: str = ""  # a romanised Chinese name (lower case): Chinese text holds it when its characters read so


class ConceptReader:
    """Reads a sentence's concepts with the glossary, the dictionaries and the index's rarity."""

    def __init__(self, glossary: Glossary, idf: Callable[[str], float | None], max_translations: int = 12) -> None:
        self.glossary = glossary
        self._idf = idf
        self.max_translations = max_translations

    def concepts(self, sentence: str, lang: Lang) -> list[Concept]:
        """What a sentence says, as concepts with both languages' forms."""
        found: list[Concept] = []
        normalised = normalize_for_match(sentence)
        if lang == "en":
            covered: set[str] = set()
            for form, term in self.glossary.match_en(sentence):
                if _only_before_currency(form, sentence):
                    continue  # "US dollars" names a currency (美元), not the country: its words are read below
                words = re.findall(r"[a-z]+", form.lower())
                covered.update(words)
                stems = frozenset(stem(w) for w in words if not is_stop_word(w))
                weight = self._weight([*term.zh, *stems])
                # a proper name: the glossary writes it capitalised ("United Kingdom", "ILO"), and it is no
                # word every passage says ("AI")
                name = any(e[:1].isupper() for e in term.en) and weight >= 1.0
                found.append(Concept(weight, frozenset(term.zh), stems, name))
            dictionary = english_to_chinese()
            capitalised = {w.lower() for w in re.findall(r"\b[A-Z][a-z]+\b", sentence)}
            for word in re.findall(r"[a-z]+", normalised):
                if word in covered or stem(word) in covered or is_stop_word(word) or is_number_word(word):
                    continue  # a figure written out is checked as a figure
                forms = [c for lemma in lemmas(word) for c in dictionary.get(lemma, ()) if len(c) >= 2]
                if word in capitalised and not forms and is_pinyin(word):
                    # a romanised Chinese name ("Zhang", "Shenzhen"): a name the evidence must give
                    covered.add(word)
                    found.append(Concept(self._weight([stem(word)]), frozenset(), frozenset({stem(word)}), True, word))
                    continue
                if len(word) < 3:
                    continue
                covered.update((word, stem(word)))
                found.append(Concept(self._weight([stem(word), *forms]), frozenset(forms[: self.max_translations]),
                                     frozenset({stem(word)})))
            return found
        taken = ""
        for form, term in self.glossary.match_zh(normalised):
            taken += form
            found.append(Concept(self._weight([form]), frozenset((*term.zh, form)),
                                 frozenset(stem(w) for e in term.en for w in re.findall(r"[a-z]+", e.lower())
                                           if not is_stop_word(w))))
        glosses = chinese_to_english()
        for token in tokenize(normalised):
            if len(token) < 2 or is_stop_word(token) or token in taken:
                continue
            if not cjk_count(token):
                found.append(Concept(self._weight([token]), frozenset(), frozenset({token})))
                continue
            english = frozenset(stem(g) for g in glosses.get(token, ())[:5] if not is_stop_word(g))
            found.append(Concept(self._weight([token]), frozenset({token}), english))
        return found

    def _weight(self, forms: Sequence[str]) -> float:
        """As rare as the commonest of its forms the index knows (a word, or its translations)."""
        known = [w for w in (self._idf(f) for f in forms) if w is not None]
        return max(min(known), 0.1) if known else 1.0


@once
def _currency() -> re.Pattern[str]:
    """A currency's name after a place ("US dollars", "Japanese yen"): `assistant/data/currencies.txt`."""
    words = [w.strip() for w in CURRENCIES_FILE.read_text(encoding="utf-8").splitlines()
             if w.strip() and not w.startswith("#")]
    return re.compile(r"\s+(?:" + "|".join(re.escape(w) for w in words) + r")\b", re.I)


def _only_before_currency(form: str, sentence: str) -> bool:
    """Whether every use of a glossary form in the sentence is a place naming a currency."""
    uses = list(re.finditer(rf"(?<![A-Za-z]){re.escape(form)}(?![A-Za-z])", sentence, re.I))
    return bool(uses) and all(_currency().match(sentence, use.end()) for use in uses)


def coverage(concepts: Sequence[Concept], text: str, stems: AbstractSet[str]) -> float:
    """Rarity-weighted share of the concepts the text holds, in either language (`text`
    normalised, `stems` its English stems and glosses: `evidence_stems`)."""
    total = sum(c.weight for c in concepts)
    if total <= 0:
        return 0.0
    return sum(c.weight for c in concepts if held(c, text, stems)) / total


def held(concept: Concept, text: str, stems: AbstractSet[str]) -> bool:
    """Whether a text holds a concept in either language (a Chinese form of three or more
    characters also counts without its first or last character: "怀恶意" for "恶意"; a
    romanised name, when the text's characters read so: "Zhang" in "张")."""
    return bool(concept.en & stems) or any(
        z in text or (len(z) >= 3 and (z[1:] in text or z[:-1] in text)) for z in concept.zh) or (
        bool(concept.spelled) and spelled_by(concept.spelled, text))


def english_stems(text: str) -> set[str]:
    """Stems of the English words of a normalised text."""
    return {stem(w) for w in re.findall(r"[a-z]+", text)}


def glossed(text: str) -> set[str]:
    """English stems of a Chinese text's words, from the Chinese→English dictionary."""
    glosses = chinese_to_english()
    return {stem(g) for token in tokenize(text) if len(token) >= 2 and cjk_count(token)
            for g in glosses.get(token, ())[:6] if not is_stop_word(g)}


def evidence_stems(text: str) -> set[str]:
    """What an evidence text (normalised) holds as English stems: its own words' and its
    Chinese words' glosses."""
    return english_stems(text) | glossed(text)


__all__ = ["Concept", "ConceptReader", "coverage", "english_stems", "evidence_stems", "glossed", "held"]
