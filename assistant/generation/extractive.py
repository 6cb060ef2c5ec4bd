"""The answer without a model: the evidence's chosen sentences quoted, in reading order, each
cited; a report's own list of what a list question asks for comes first. Sentences in another
language than the question are quoted on Markdown blockquote lines ("> ") after a lead-in in the
question's language that says plainly they are the reports' own words, so that readers and
tools can tell the source's words from the answer's own."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from assistant.citations import Attribution, answer_sentences, resolve
from assistant.conversation import Turn
from assistant.evidence import for_display, shown_sentences
from assistant.messages import message
from assistant.types import Evidence, Lang, ScoredSentence, SentenceCheck, Translation


class ExtractiveAnswerer:
    """Quotes the evidence; needs no model, judges nothing, condenses nothing."""

    name = "extractive"
    writes = False

    def fit(self, evidence: Evidence) -> Evidence:
        """Quotes are chosen by the evidence selector; no prompt to fit."""
        return evidence

    def compose(self, lang: Lang, chosen: Sequence[ScoredSentence],
                translations: Mapping[int, Translation] | None = None, by: str = "") -> str:
        """The answer text; citation [n] is the passage's 1-based rank. `translations` replace
        chosen sentences (by index) with a model's translation into the question's language,
        which `by` names in the lead-in; an unchecked one opens with ⚠."""
        if not chosen:
            return message("not_found", lang)
        rows = _rows(lang, chosen, translations or {})
        quoted = all(row.quoted for row in rows)
        # an English reader is told plainly that these are Chinese quotes, not a written answer
        lead = ("no_model_quotes" if lang == "en" else "lead_in_quoted") if quoted else "lead_in"
        if translations:
            lead = "lead_in_translated"
        lines = [message(lead, lang, backend=by)]
        lines += [f"> {row.text}" if row.quoted else row.text for row in rows]
        return "\n".join(lines)

    def outline(self, lang: Lang, report: str, noun: str, entries: Sequence[tuple[str, int]],
                quoted: Sequence[bool]) -> str:
        """The headings under which a report lists what the question asks for ("建议1: …"), each
        citing the passage where it starts, after a lead-in that counts them; `noun` is what they
        are, in the question's language ("建议", "recommendations"); `quoted`: per entry, whether it
        is in another language than the question (a blockquote line)."""
        if lang == "zh":
            lines = [f"《{report}》列出的{noun}（共{len(entries)}项）："]
        else:
            original = bool(quoted) and all(quoted)
            lines = [f"{report} lists {len(entries)} {noun}" + (" (in the original Chinese):" if original else ":")]
        lines += [f"{'> ' if quote else ''}- {' '.join(title.split())} [{number + 1}]"
                  for (title, number), quote in zip(entries, quoted, strict=True)]
        return "\n".join(lines)

    def text(self, evidence: Evidence, translations: Mapping[int, Translation] | None = None, by: str = "") -> str:
        """`translations`: a model's, keyed by index in `shown_sentences(evidence)` (the quoted
        sentences, then the outline's headings)."""
        lang = evidence.query.lang
        translations = translations or {}
        body = self.compose(lang, evidence.quoted, translations, by)
        if not evidence.outline:
            return body
        entries = _entries(evidence, translations)
        listing = self.outline(lang, evidence.outline_report, evidence.outline_noun,
                               [(entry.text, number) for entry, number in entries],
                               [entry.quoted for entry, _ in entries])
        return f"{listing}\n{body}"

    def stream(self, evidence: Evidence, should_stop: Callable[[], bool] | None = None) -> Iterator[str]:
        """The quotes line by line, as a model would stream, already numbered as the answer will be."""
        yield from resolve(self.text(evidence), evidence.passages).text.splitlines(keepends=True)

    def cite(self, draft: str, evidence: Evidence) -> Attribution:
        """Quotes cite where they come from: every quoted sentence is its own evidence."""
        return self.quotes(evidence)

    def quotes(self, evidence: Evidence, translations: Mapping[int, Translation] | None = None,
               by: str = "") -> Attribution:
        """The quoting answer, cited; a translated sentence's evidence is its original (an
        unchecked translation's check says it is not known to be supported)."""
        resolved = resolve(self.text(evidence, translations, by), evidence.passages)
        shown = shown_sentences(evidence)
        original = {" ".join(t.text.split()): shown[i].text for i, t in (translations or {}).items()}
        unchecked = {" ".join(t.text.split()) for t in (translations or {}).values() if not t.checked}

        def translation(text: str) -> str:
            text = text.replace(UNCHECKED, "").strip()
            return next((t for t in original if text and text in t), "")

        sentences = answer_sentences(resolved.text)
        # a translation of one sentence may read as two: both cite what its line cites
        row_numbers = {translation(text): numbers for text, numbers in sentences if numbers}
        # a line saying that sentences could not be translated opens on those sentences
        rows = [*_rows(evidence.query.lang, evidence.quoted, translations or {}),
                *(entry for entry, _ in _entries(evidence, translations or {}))]
        pointers = {pointer: row.originals for row in rows
                    if row.originals for pointer, _ in answer_sentences(resolve(row.text, evidence.passages).text)}
        checks = []
        for text, numbers in sentences:
            if text in pointers:
                checks.append(SentenceCheck(text, numbers, True, 1.0, evidence=pointers[text]))
                continue
            row = translation(text)
            numbers = (numbers or row_numbers.get(row, ())) if row else numbers
            sure = row not in unchecked
            checks.append(SentenceCheck(text, numbers, sure, 1.0 if sure else 0.0,
                                        evidence=(original[row] if row else text,))
                          if numbers else SentenceCheck(text, (), True, 1.0))
        stating = sum(1 for c in checks if c.citations)
        return Attribution(resolved.text, resolved.citations, tuple(checks), stating, 0, 0, 0, 0)

    def judge(self, evidence: Evidence) -> float | None:
        return None

    def finds_value(self, evidence: Evidence) -> bool | None:
        return None

    def condense(self, question: str, lang: Lang, turns: Sequence[Turn]) -> str | None:
        return None

    def render(self, question: str, lang: Lang) -> str | None:
        return None  # no model to render the question with

    def translate(self, evidence: Evidence) -> dict[int, Translation]:
        return {}  # no model to translate with


UNCHECKED = "⚠"  # marks a translation the system could not check against its original


@dataclass(frozen=True)
class _Row:
    text: str  # the line, with its citation markers
    quoted: bool  # in another language than the question's: a blockquote line
    originals: tuple[str, ...] = ()  # a line standing for sentences that could not be translated: those


def _rows(lang: Lang, chosen: Sequence[ScoredSentence], translations: Mapping[int, Translation]) -> list[_Row]:
    """The answer's lines: each chosen sentence, translated where `translations` has it, else as
    written (quoted when in another language). When a model translated anything (a sentence or an
    outline's heading), each run of sentences it could not translate is one line in the reader's
    language citing their sources instead: quotes a reader of `lang` may not read add nothing to
    translated ones but noise, and [n] still opens each original."""
    rows: list[_Row] = []
    for i, sentence in enumerate(chosen):
        cites = "".join(f"[{passage + 1}]" for passage in (sentence.passage, *sentence.also))
        own = _shown(translations[i]) if i in translations else for_display(sentence.text)
        untranslated = sentence.lang != lang and i not in translations
        quote = untranslated
        if sentence.item and rows:  # quoted like the sentence that introduces it
            quote = rows[-1].quoted and quote
            own = f"- {own}"
        rows.append(_Row(f"{own} {cites}", quote, (sentence.text,) if untranslated else ()))
    if not translations or not any(row.originals for row in rows):
        return [_Row(row.text, row.quoted) for row in rows]
    merged: list[_Row] = []
    for row in rows:
        if not row.originals:
            merged.append(row)
        elif merged and merged[-1].originals:
            merged[-1] = _Row("", False, merged[-1].originals + row.originals)
        else:
            merged.append(_Row("", False, row.originals))
    return [row if not row.originals else _pointer(lang, row.originals, chosen) for row in merged]


def _entries(evidence: Evidence, translations: Mapping[int, Translation]) -> list[tuple[_Row, int]]:
    """The outline's entries as its lines show them, each with the passage it cites: translated
    where `translations` has it; when a model translated anything, an entry it could not translate
    says so in the reader's language (its [n] opens the original heading); otherwise as written,
    quoted when in another language."""
    lang = evidence.query.lang
    headings = shown_sentences(evidence)[len(evidence.quoted):]
    first = len(evidence.quoted)
    entries = []
    for k, (title, number) in enumerate(evidence.outline):
        foreign = k >= len(headings) or headings[k].lang != lang
        if first + k in translations:
            entries.append((_Row(_shown(translations[first + k]), False), number))
        elif foreign and translations:
            original = headings[k].text if k < len(headings) else title
            entries.append((_Row(message("untranslated_item", lang, number=k + 1), False, (original,)), number))
        else:
            entries.append((_Row(title, foreign), number))
    return entries


def _pointer(lang: Lang, originals: tuple[str, ...], chosen: Sequence[ScoredSentence]) -> _Row:
    passages = dict.fromkeys(p for s in chosen if s.text in originals for p in (s.passage, *s.also))
    cites = "".join(f"[{p + 1}]" for p in passages)
    return _Row(message("untranslated", lang, count=len(originals), cites=cites), False, originals)


def _shown(translation: Translation) -> str:
    return translation.text if translation.checked else f"{UNCHECKED} {translation.text}"
