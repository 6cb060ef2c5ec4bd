"""Nothing that holds an answer is unsearchable: a heading, a byline in a table of contents, a row
of an annex table and an English footnote in a Chinese report each answer a question, and each is
indexed as what it is (a small fixture report of its own, beside two real reports as distractors)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from assistant.config import load_settings
from assistant.embeddings import Embedder
from assistant.index import build_index
from assistant.pipeline import Assistant
from tests.conftest import copy_docs, shared_cache_index

FILLER = "各试点城市按季度报送进展，评估组汇总后形成年度报告，并向协调委员会提出改进建议。"

REPORT = f"""海洋数据治理年度汇编

目录

港口传感网络的数据共享规则\t3
林雪岚\t3
渔业监测模型的评估方法\t7
欧文·哈特(Owen Hart), 米拉·桑托斯(Mira Santos)\t7
港湾雷达数据的开放原则\t10
周启明\t10
结语\t12

第一部分 试点进展

一、东港试点（2025年启动，由潮汐数据联盟牵头）

{FILLER * 6}

{FILLER * 5}

二、评估安排

{FILLER * 5}

本汇编的评估方法参考了一项外部研究a。

a Helen Park and others, "Harbour sensor audits", Marine Policy Review, vol. 12 (2023). The study found that \
forty per cent of audited harbour sensors had no calibration record.

港湾雷达数据的开放原则

雷达回波数据应在脱敏后七十二小时内向科研机构开放，原始数据保存不少于五年。{FILLER * 4}

结语

{FILLER * 3}

附件二：磋商会议一览

会议\t日期\t地点\t议题
区域磋商会\t2025年3月4日\t内罗毕\t讨论跨境数据共享协议
专家圆桌\t2025年5月20日\t利马\t审议传感器校准标准
"""


@pytest.fixture(scope="module")
def structured(tmp_path_factory: pytest.TempPathFactory, e5: Embedder) -> Iterator[Assistant]:
    tmp = tmp_path_factory.mktemp("structure")
    corpus = copy_docs(tmp / "corpus", ["003_bbe521c40ca0eda9.txt", "004_3760a4cddfae1401.txt"])
    (corpus / "ocean.txt").write_text(REPORT, encoding="utf-8")
    settings = load_settings(corpus_dir=corpus, index_dir=shared_cache_index(tmp / "index"), llm="extractive")
    build_index(settings, e5, progress=False)
    assistant = Assistant(settings, embedder=e5, progress=False)
    yield assistant
    assistant.index.close()


def _found(assistant: Assistant, question: str, answer: str, k: int = 5) -> str:
    """The kind of the best passage among the top `k` whose heading path or text holds `answer`."""
    for passage in assistant.retrieve(question, k).passages:
        stored = assistant.index.store.chunk_by_ordinal(passage.doc_id, int(passage.chunk_id.rsplit("#", 1)[1]))
        if answer in passage.text or answer in passage.section:
            assert stored is not None
            return stored.chunk.kind
    raise AssertionError(f"{answer!r} is not in the top {k} for {question!r}")


def test_an_answer_in_a_heading_is_found(structured: Assistant) -> None:
    assert _found(structured, "东港试点是哪一年启动的，由谁牵头？", "潮汐数据联盟") == "body"


def test_a_byline_in_the_table_of_contents_is_found(structured: Assistant) -> None:
    assert _found(structured, "《港口传感网络的数据共享规则》的作者是谁？", "林雪岚") == "contents"
    assert _found(structured, "Who wrote the article on evaluating fishery monitoring models?", "Owen Hart") \
        == "contents"


def test_an_article_is_found_by_the_author_the_contents_name_for_it(structured: Assistant) -> None:
    """The body has the article but not its byline: the contents' byline is attached to its heading."""
    passages = structured.retrieve("周启明在文章中主张雷达数据多久向科研机构开放？", 5).passages
    hit = next(p for p in passages if "七十二小时" in p.text)
    assert "港湾雷达数据的开放原则（周启明）" in hit.section


def test_a_row_of_an_annex_table_is_found(structured: Assistant) -> None:
    assert _found(structured, "在内罗毕举行的磋商会讨论了什么议题？", "跨境数据共享协议") == "table"


def test_an_english_footnote_in_a_chinese_report_is_found(structured: Assistant) -> None:
    assert _found(structured, "What did the harbour sensor audits study find?", "no calibration record") \
        == "reference"


def test_the_table_of_contents_keeps_only_what_the_body_lacks(structured: Assistant) -> None:
    document = structured.index.store.document("ocean")
    assert document is not None
    assert "- 港口传感网络的数据共享规则（林雪岚）" in document.text
    assert "- 渔业监测模型的评估方法（欧文·哈特(Owen Hart), 米拉·桑托斯(Mira Santos)）" in document.text
    assert "- 结语" not in document.text  # the body has this heading: no contents entry for it
    assert any(h.title == "港湾雷达数据的开放原则" and h.byline == "周启明" for h in document.headings)
    assert "区域磋商会 | 2025年3月4日 | 内罗毕 | 讨论跨境数据共享协议\n" in document.text  # one row per line
    assert not any("|" in h.title for h in document.headings)  # a table row is never a heading


def test_offsets_still_point_into_the_cleaned_text(structured: Assistant) -> None:
    document = structured.index.store.document("ocean")
    assert document is not None
    for stored in structured.index.store.chunks_of("ocean"):
        assert document.text[stored.chunk.char_start:stored.chunk.char_end] == stored.chunk.text
