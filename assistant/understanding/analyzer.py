"""Understanding a question once, before searching: its language, the text to embed, the keyword
terms to match in both languages, the reports it names, the kind of answer it asks for, the
identifiers it names, the people and products a Chinese question names, what it asks a list of,
and the glossary names in it (and the question with those names written in the other language,
for a second reading by the embedder)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping
from pathlib import Path

from assistant.glossary import Glossary, chinese_to_english, english_to_chinese
from assistant.language import cjk_count, detect_lang, normalize_for_match, to_simplified
from assistant.lazy import once
from assistant.lexical import is_stop_word, lemmas, person_names, stem, tokenize
from assistant.messages import message
from assistant.types import DocumentInfo, Lang, Query
from assistant.understanding.kinds import answer_kind, asked_kinds

# weights of keyword terms relative to the question's own words
GLOSSARY_WEIGHT = 0.8
DICTIONARY_WEIGHT = 0.3
DICTIONARY_CANDIDATES = 2

LIST_NOUNS_FILE = Path(__file__).resolve().parent.parent / "data" / "list_nouns.tsv"
CUES_FILE = Path(__file__).resolve().parent.parent / "data" / "question_cues.tsv"
NAME_CHARACTERS_FILE = Path(__file__).resolve().parent.parent / "data" / "name_characters.tsv"
# Identifiers ("ASL-3", "A/74/821", "78/311"): written the same way in every language
_IDENTIFIER = re.compile(r"(?<![a-z0-9/])(?:[a-z]+-\d+[a-z]?|(?:[a-z]/)?\d+(?:/\d+)+)(?![a-z0-9/])")
# a name in Latin letters inside Chinese text: an acronym or a word with a capital inside ("NVIDIA", "PyTorch")
_LATIN_NAME = re.compile(r"(?<![A-Za-z0-9-])(?:[A-Z]{3,}|[A-Z]?[a-z]+(?:[A-Z][a-z0-9]*)+)(?![A-Za-z0-9-])")


class QuestionError(ValueError):
    """A question that cannot be asked as it is; the message says why, in the question's language."""


def validate_question(question: str, max_chars: int) -> str:
    """The question stripped, or QuestionError: empty, too long, or text that is not valid
    Unicode (a lone surrogate)."""
    text = (question or "").strip()
    if not text:
        raise QuestionError(message("question_empty", "both"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise QuestionError(message("question_unreadable", "both")) from None
    if len(text) > max_chars:
        lang: Lang = "zh" if detect_lang(text[:2000]) == "zh" else "en"
        raise QuestionError(message("question_too_long", lang, length=len(text), limit=max_chars))
    return text


def _pairs(path: Path) -> list[tuple[str, str]]:
    """(key, value) of each "key<TAB>value" line of a data file; blank and # lines skipped."""
    rows = (line.split("\t", 1) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#") and "\t" in line)
    return [(key.strip(), value.strip()) for key, value in rows]


@once
def question_cues() -> dict[str, re.Pattern[str]]:
    """What else a question may ask for ("sources", "authors"): patterns from
    `assistant/data/question_cues.tsv`."""
    return {cue: re.compile(pattern, re.I) for cue, pattern in _pairs(CUES_FILE)}


def asks_for(question: str, cue: str) -> bool:
    pattern = question_cues().get(cue)
    return bool(pattern and pattern.search(question))


@once
def list_nouns() -> dict[str, tuple[str, ...]]:
    """Things reports enumerate: Chinese noun → English forms (`assistant/data/list_nouns.tsv`)."""
    return {zh: tuple(e.strip() for e in en.split("|") if e.strip()) for zh, en in _pairs(LIST_NOUNS_FILE)}


def asked_nouns(question: str) -> list[str]:
    """The nouns a question asks a list of ("提出了哪些建议", "十大重要议题中包括哪些", "哪几项原则",
    "What recommendations…", "Which basic principles…"), as Chinese nouns."""
    found = []
    lowered = question.lower()
    for noun, english in list_nouns().items():
        chinese = rf"(?:哪些|哪几|几)[项个条大类种点]?{noun}|{noun}[^，。？?,]{{0,6}}(?:有|包括|包含|是)哪"
        plural = "|".join(f"{e}s" for e in english)
        en = rf"\b(?:which|what|list)\b(?: the)?(?: [a-z-]+){{0,3}} (?:{plural})\b"
        if re.search(chinese, question) or re.search(en, lowered):
            found.append(noun)
    return found


def identifiers(question: str) -> list[str]:
    """Codes the question names ("ASL-3"; "第78/311号决议" → "78/311"): lower case, one kind of
    hyphen, no spaces around hyphens and slashes."""
    normalised = re.sub(r"\s*([-/])\s*", r"\1", re.sub("[‐‑–—]", "-", normalize_for_match(question)))
    return list(dict.fromkeys(m.group(0) for m in _IDENTIFIER.finditer(normalised)))


@once
def name_characters() -> dict[str, frozenset[str]]:
    """{"surname": …, "transliteration": …} (`assistant/data/name_characters.tsv`)."""
    return {kind: frozenset(chars) for kind, chars in _pairs(NAME_CHARACTERS_FILE)}


def reads_as_name(word: str) -> bool:
    """Whether a word reads like a person's name: a surname and one or two characters more, or
    transliteration characters only (a foreign name)."""
    chars = name_characters()
    return len(word) >= 2 and ((len(word) <= 3 and word[0] in chars.get("surname", frozenset())) or all(
        c in chars.get("transliteration", frozenset()) for c in word))


def proper_names(question: str, lang: Lang) -> list[str]:
    """The people and products a Chinese question names, as a report would write them: the
    person names jieba tags that read as names (words the glossary or the domain list keeps whole
    are never tagged) and names in Latin letters ("NVIDIA"). None for an English question: a
    report in Chinese writes a Western name in Chinese characters, which cannot be looked for."""
    if lang != "zh":
        return []
    people = [word for word in person_names(question) if reads_as_name(word)]
    latin = [m.group(0) for m in _LATIN_NAME.finditer(question)]
    return list(dict.fromkeys([*people, *latin]))


def _alias_key(text: str) -> str:
    """How report names are compared: half-width, Simplified, lower case, hyphens as spaces."""
    text = to_simplified(unicodedata.normalize("NFKC", text)).lower().replace("-", " ")
    return re.sub(r"\s+", " ", text).strip()


class QueryAnalyzer:
    def __init__(self, glossary: Glossary, vocabulary: Mapping[str, int],
                 documents: Collection[DocumentInfo]) -> None:
        self.glossary = glossary
        self.vocabulary = vocabulary
        self._aliases: list[tuple[str, str]] = []
        for info in documents:
            for alias in (info.title_zh, info.title_en, *info.aliases):
                alias = _alias_key(alias)
                if len(alias) >= 2 and (cjk_count(alias) or len(alias) >= 4):
                    self._aliases.append((alias, info.doc_id))
        self._aliases.sort(key=lambda pair: -len(pair[0]))  # the longest name wins
        self._alias_patterns = [
            (re.compile(r"[\s\-]+".join(re.escape(part) for part in alias.split(" ")), re.I), doc_id)
            for alias, doc_id in self._aliases]

    def _a_word_of_the_index(self, name: str) -> bool:
        """Whether the reports use a name as a word of their own (the index's vocabulary holds it
        whole): someone they mention, or a common word the tagger took for a name ("文明")."""
        return name.lower() in self.vocabulary

    def _in_vocabulary(self, term: str) -> list[str]:
        tokens = tokenize(term)
        return tokens if tokens and all(t in self.vocabulary for t in tokens) else []

    def _english_to_chinese(self, text: str) -> tuple[dict[str, float], list[str]]:
        terms: dict[str, float] = {}
        added: list[str] = []
        covered: set[str] = set()
        for form, term in self.glossary.match_en(text):
            covered.update(form.split())
            for zh in term.zh:
                for token in tokenize(zh):
                    terms[token] = max(terms.get(token, 0.0), GLOSSARY_WEIGHT)
                added.append(zh)
        dictionary = english_to_chinese()
        for word in re.findall(r"[a-z]+", text.lower()):
            if word in covered or is_stop_word(word) or len(word) < 3:
                continue
            found = 0
            for lemma in lemmas(word):
                for candidate in dictionary.get(lemma, ()):
                    tokens = self._in_vocabulary(candidate)
                    if not tokens or candidate in added:
                        continue
                    for token in tokens:
                        terms[token] = max(terms.get(token, 0.0), DICTIONARY_WEIGHT)
                    added.append(candidate)
                    found += 1
                    if found >= DICTIONARY_CANDIDATES:
                        break
                if found >= DICTIONARY_CANDIDATES:
                    break
        return terms, added

    def _chinese_to_english(self, text: str) -> tuple[dict[str, float], list[str]]:
        terms: dict[str, float] = {}
        added: list[str] = []
        covered = ""
        for form, term in self.glossary.match_zh(text):
            covered += form
            for en in term.en:
                for token in tokenize(en):
                    terms[token] = max(terms.get(token, 0.0), GLOSSARY_WEIGHT)
                added.append(en)
        dictionary = chinese_to_english()
        for word in tokenize(text):
            if word in covered or not cjk_count(word):
                continue
            found = 0
            for gloss in dictionary.get(word, ()):
                token = stem(gloss)
                if is_stop_word(gloss) or token not in self.vocabulary or gloss in added:
                    continue
                terms[token] = max(terms.get(token, 0.0), DICTIONARY_WEIGHT)
                added.append(gloss)
                found += 1
                if found >= DICTIONARY_CANDIDATES:
                    break
        return terms, added

    def analyze(self, question: str, expansion: str = "", lang: Lang | None = None) -> Query:
        """The question understood; `lang` when the caller already knows it (a follow-up is
        answered in the language it was asked in, whatever its condensed form reads like)."""
        lang = lang or detect_lang(question)
        normalised = to_simplified(unicodedata.normalize("NFKC", question))
        fixed = self.glossary.correct_typos(normalised)
        # a report named in the question selects that report; its name is not what is asked about
        content = fixed
        doc_ids: list[str] = []
        for pattern, doc_id in self._alias_patterns:
            if pattern.search(content):
                doc_ids.append(doc_id)
                content = pattern.sub(" ", content)
        content = re.sub(r"\s+", " ", content).strip()
        if not tokenize(content):
            content = fixed
        terms: dict[str, float] = {}
        for token in tokenize(content):
            terms[token] = terms.get(token, 0.0) + 1.0
        other, added = (self._english_to_chinese(content) if lang == "en"
                        else self._chinese_to_english(content))
        for token, weight in other.items():
            if token not in terms:
                terms[token] = weight
        for token in tokenize(expansion):
            terms.setdefault(token, GLOSSARY_WEIGHT)
        if expansion:
            added.append(expansion)
        names = self.glossary.match_en(content) if lang == "en" else self.glossary.match_zh(content)
        embed_text = content if doc_ids and len(content.strip()) >= 6 else fixed
        return Query(
            text=question,
            lang=lang,
            embed_text=embed_text,
            terms=terms,
            kind=answer_kind(question, lang),
            kinds=asked_kinds(question, lang),
            translated=tuple(dict.fromkeys(added)),
            doc_ids=tuple(dict.fromkeys(doc_ids)),
            wants_sources=asks_for(question, "sources"),
            wants_authors=asks_for(question, "authors"),
            identifiers=tuple(identifiers(question)),
            proper_names=tuple(name for name in proper_names(fixed, lang) if not self._a_word_of_the_index(name)),
            list_nouns=tuple(asked_nouns(question)),
            names=tuple(dict.fromkeys((term.en[0], term.zh[0]) for _, term in names)),
            crossed_text=self._crossed(embed_text, lang),
        )

    def _crossed(self, text: str, lang: Lang) -> str:
        """`text` with each name the glossary knows in it written in the other language ("" when
        it names none): "What did the Bletchley Declaration commit countries to?" → "What did the
        布莱切利宣言 commit 国家 to?"."""
        if lang == "en":
            found = {matched: term.zh[0] for matched, term in reversed(self.glossary.match_en(text))}
            if not found:
                return ""
            patterns = [(r"[\s\-]+".join(re.escape(word) for word in matched.split()), matched.isupper())
                        for matched in sorted(found, key=len, reverse=True)]
            alternation = "|".join(pattern if exact else f"(?i:{pattern})" for pattern, exact in patterns)

            def chinese(hit: re.Match[str]) -> str:
                said = " ".join(hit.group(0).replace("-", " ").split())
                return found.get(said, found.get(said.lower(), hit.group(0)))

            crossed = re.sub(rf"(?<![A-Za-z0-9])(?:{alternation})(?![A-Za-z0-9])", chinese, text)
        else:
            crossed = text
            for form, term in self.glossary.match_zh(text):
                crossed = crossed.replace(form, f" {term.en[0]} ")
            crossed = re.sub(r"\s+", " ", crossed).strip()
        return crossed if crossed != text else ""
