"""With the English view on, an English question is matched word by word against Chinese passages
read in English (each Chinese word as its dictionary glosses); that reading is built with the
index, and made again for an index built without it (a small fixture report of its own)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from assistant.config import load_settings
from assistant.embeddings import Embedder
from assistant.index import SearchIndex, build_index
from assistant.index.english_view import FOLDER, VERSION, english_reading
from assistant.lexical import tokenize
from assistant.pipeline import Assistant
from tests.conftest import shared_cache_index

FILLER = "各试点城市按季度报送进展，评估组汇总后形成年度报告，并向协调委员会提出改进建议。"

REPORT = f"""城市基础设施数据治理汇编

一、港口雷达数据

港口雷达回波数据应在脱敏后七十二小时内向科研机构开放，原始数据保存不少于五年。{FILLER * 3}

二、机场噪声监测

机场周边的噪声监测由环境保护机构负责，监测结果每月向居民公布。{FILLER * 3}

三、农田灌溉用水

农田灌溉用水的计量设备由水利部门统一安装，用水数据按年度汇总。{FILLER * 3}

四、地铁客流统计

地铁客流数据由运营公司采集，高峰时段的客流信息实时发布。{FILLER * 3}
"""


@pytest.fixture(scope="module")
def infrastructure(tmp_path_factory: pytest.TempPathFactory, e5: Embedder) -> Iterator[Assistant]:
    tmp = tmp_path_factory.mktemp("english_view")
    corpus = tmp / "corpus"
    corpus.mkdir()
    (corpus / "infrastructure.txt").write_text(REPORT, encoding="utf-8")
    settings = load_settings(corpus_dir=corpus, index_dir=shared_cache_index(tmp / "index"), llm="extractive",
                             english_view_weight=1.0, english_view_bonus=0.03)
    build_index(settings, e5, progress=False)
    assistant = Assistant(settings, embedder=e5, progress=False)
    yield assistant
    assistant.index.close()


def test_a_chinese_word_is_read_as_its_dictionary_glosses() -> None:
    reading = english_reading(tokenize("港口雷达数据保存五年"))
    assert {"harbor", "radar", "data", "keep"} <= set(reading)
    assert english_reading(["应"]) == []  # one character: too many senses to count as evidence
    assert english_reading(["gpt-4", "港口"])[0] == "gpt-4"  # English tokens are kept as they are


def test_an_english_question_s_words_match_the_passage_that_says_them_in_chinese(infrastructure: Assistant) -> None:
    passages = infrastructure.retrieve("Which agency monitors the noise around airports?", 4).passages
    scores = {p.text[:4]: p.scores["english"] for p in passages}
    airport = next(p for p in passages if "机场" in p.text)
    assert airport.rank == 1
    assert airport.scores["english"] == max(scores.values()) > 0
    assert all(s < airport.scores["english"] for t, s in scores.items() if t != airport.text[:4])
    # a Chinese question is not read through the English view
    assert "english" not in infrastructure.retrieve("机场噪声由谁监测？", 4).passages[0].scores


def test_the_reading_is_saved_with_the_index_and_made_again_when_missing(infrastructure: Assistant) -> None:
    folder = infrastructure.index.folder
    assert (folder / FOLDER / "version.txt").read_text(encoding="utf-8") == VERSION
    saved = infrastructure.index.english_view.get()
    shutil.rmtree(folder / FOLDER)  # an index built before the readings
    reopened = SearchIndex.open(infrastructure.settings.index_dir)
    try:
        made = reopened.english_view.get()
        assert made.size == saved.size == infrastructure.index.size
        assert made.vocabulary == saved.vocabulary
        assert (made.weights != saved.weights).nnz == 0
    finally:
        reopened.close()
