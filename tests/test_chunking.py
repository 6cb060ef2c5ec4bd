"""Chunking the real reports: offsets round-trip, sentences are never cut, sections are carried."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from assistant.chunking import ChunkerSettings, chunk_document, chunk_sentences, sentence_spans
from assistant.ingest import load_document
from assistant.types import Chunk, Document, DocumentInfo
from tests.conftest import CORPUS

REPORTS = sorted(p.name for p in CORPUS.glob("*.txt"))
SETTINGS = ChunkerSettings(chunk_size=400, chunk_overlap=100)


@pytest.fixture(scope="module")
def documents() -> dict[str, Document]:
    return {name: load_document(CORPUS / name, Path(name)) for name in REPORTS}


@pytest.mark.parametrize("name", REPORTS)
def test_every_chunk_round_trips_to_the_cleaned_text(documents: dict[str, Document], name: str) -> None:
    document = documents[name]
    chunks = chunk_document(document, SETTINGS)
    assert chunks
    for chunk in chunks:
        assert document.text[chunk.char_start:chunk.char_end] == chunk.text
        assert len(chunk.text) <= SETTINGS.chunk_size
    # together the chunks cover every sentence of the document
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.char_start, chunk.char_end))
    uncovered = [i for i, ch in enumerate(document.text) if ch.strip() and i not in covered]
    assert not uncovered


def _sentences(text: str) -> list[tuple[int, int]]:
    spans, offset = [], 0
    for line in text.split("\n"):
        spans += sentence_spans(text, offset, offset + len(line))
        offset += len(line) + 1
    return spans


@pytest.mark.parametrize("name", REPORTS)
def test_chunks_start_and_end_at_sentence_boundaries(documents: dict[str, Document], name: str) -> None:
    document = documents[name]
    sentences = _sentences(document.text)
    starts = {a for a, _ in sentences}
    ends = {b for _, b in sentences}
    cut_inside = []
    for chunk in chunk_document(document, SETTINGS):
        for offset, allowed in ((chunk.char_start, starts), (chunk.char_end, ends)):
            if offset in allowed:
                continue
            # the only other allowed cut: inside a sentence longer than the chunk size
            containing = next(s for s in sentences if s[0] < offset < s[1])
            if containing[1] - containing[0] <= SETTINGS.chunk_size:
                cut_inside.append((chunk.chunk_id, document.text[offset - 20:offset + 20]))
    assert not cut_inside


def test_chunks_carry_the_section_heading_path(documents: dict[str, Document]) -> None:
    chunks = chunk_document(documents["002_071b5aa2b9b7c488.txt"], SETTINGS)
    panel = next(c for c in chunks if "我们建议成立一个独立的国际人工智能科学小组" in c.text)
    assert panel.section.startswith("3. 加强全球合作")
    assert "国际人工智能科学小组" in panel.section
    sections_001 = {c.section for c in chunk_document(documents["001_b7cc2b2aa730153b.txt"], SETTINGS)}
    assert any(s.startswith("二、全球人工智能治理的十大重要议题 > (五) 内容安全风险") for s in sections_001)


def test_overlap_repeats_whole_sentences_only(documents: dict[str, Document]) -> None:
    chunks_text = documents["002_071b5aa2b9b7c488.txt"].text
    chunks = chunk_document(documents["002_071b5aa2b9b7c488.txt"], SETTINGS)
    overlaps = [(a, b) for a, b in itertools.pairwise(chunks) if b.char_start < a.char_end]
    assert overlaps, "long paragraphs should produce overlapping chunks"
    for a, b in overlaps:
        shared = a.text[b.char_start - a.char_start:]
        assert len(shared) <= SETTINGS.chunk_overlap
        assert b.char_start in {start for start, _ in _sentences(chunks_text)}


def test_an_over_long_sentence_is_cut_at_clause_punctuation() -> None:
    clause = "各国政府、国际组织、企业和研究机构应当在人工智能安全评估方面加强合作，"
    text = "超长句子\n" + clause * 30 + "共同推动治理。"
    document = Document(info=DocumentInfo("x"), source="x.txt", sha256="0", text=text, lang="zh")
    chunks = chunk_document(document, ChunkerSettings(chunk_size=200, chunk_overlap=40))
    assert len(chunks) > 3
    for chunk in chunks[:-1]:
        assert chunk.text.endswith(("，", "、")) and len(chunk.text) <= 200


def test_english_text_is_split_into_sentences() -> None:
    text = "The panel met twice. It issued a report on risks! Did it agree? Yes, mostly. U.S. members joined."
    spans = sentence_spans(text, 0, len(text))
    assert [text[a:b] for a, b in spans] == [
        "The panel met twice.", "It issued a report on risks!", "Did it agree?", "Yes, mostly.",
        "U.S. members joined.",
    ]


def test_a_full_stop_between_a_word_and_chinese_text_ends_a_sentence() -> None:
    def sentences(text: str) -> list[str]:
        return [text[a:b] for a, b in sentence_spans(text, 0, len(text))]
    assert sentences("可查阅 https://2022.internethealthreport.org/facts.联合国大学致力于能力建设。") == [
        "可查阅 https://2022.internethealthreport.org/facts.", "联合国大学致力于能力建设。"]
    assert sentences("不包括空白答复.秘书长特使办公室开展了调查。") == [
        "不包括空白答复.", "秘书长特使办公室开展了调查。"]
    assert sentences("《人工智能安全治理框架》1.0版发布。") == ["《人工智能安全治理框架》1.0版发布。"]


def test_a_short_lead_in_stays_with_the_sentence_before_it() -> None:
    """"其任务是:" is too short to be a sentence of its own, but it is what tells a reader that a
    list follows; a footnote mark after a sentence, or a bare list mark, is left out."""
    text = ("我们建议创建人工智能标准交流中心,汇集各国的代表。其任务是:\n"
            "- a)\n"
            "建立和维护标准的登记册;\n"
            "专家比例不到一半。8\n"
            "其目的是:")
    chunk = Chunk(chunk_id="x#0", doc_id="x", ordinal=0, text=text, char_start=0, char_end=len(text),
                  section="", lang="zh")
    assert chunk_sentences(chunk) == ["我们建议创建人工智能标准交流中心,汇集各国的代表。其任务是:",
                                      "建立和维护标准的登记册;", "专家比例不到一半。"]


def test_bad_chunk_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        ChunkerSettings(chunk_size=10)
    with pytest.raises(ValueError, match="overlap"):
        ChunkerSettings(chunk_size=400, chunk_overlap=300)
