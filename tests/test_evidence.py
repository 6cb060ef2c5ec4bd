"""Evidence: which sentences of the top passages an answer may rest on, how quotes show them, and
a report's own list of what a list question asks for (read off its headings)."""

from __future__ import annotations

from assistant.evidence import SentenceSelector
from assistant.evidence.outline import find_outline
from assistant.generation.extractive import ExtractiveAnswerer
from assistant.language import detect_lang
from assistant.types import Heading, ScoredSentence
from assistant.understanding import asked_nouns


def _s(passage: int, position: int, text: str, score: float) -> ScoredSentence:
    return ScoredSentence(passage, position, text, score, lang=detect_lang(text))


def _selected(*sentences: ScoredSentence, listing: bool = False) -> list[str]:
    return [s.text for s in SentenceSelector().select(sentences, list_question=listing)]


def _quoted(lang: str, *sentences: ScoredSentence, listing: bool = False) -> list[str]:
    chosen = SentenceSelector().select(sentences, list_question=listing)
    return ExtractiveAnswerer().compose(lang, chosen).splitlines()  # type: ignore[arg-type]


def test_outlines_are_read_off_headings() -> None:
    def heading(title: str, level: int = 2, start: int = 0) -> Heading:
        return Heading(start, start + len(title), level, title)

    summary = [heading("建议1:", start=1), heading("建议2:", start=2), heading("建议3:", start=3)]
    body = [heading("建议1: 设立专家网络", start=10), heading("方框9: 一个插图", start=11),
            heading("建议2: 建立对话机制", start=12), heading("建议3: 编制标准目录", start=13),
            heading("建议5: 成立基金", start=14)]  # no 4: the series stops at 3
    found = find_outline("d", summary + body, "他们提出了哪些建议？", ["建议"])
    assert found is not None and [h.start for h in found.entries] == [10, 12, 13]
    parent = [heading("二、治理的五大议题", 1), heading("(一) 主权问题", 2), heading("(二) 社会影响", 2),
              heading("1.细分", 3), heading("(三)技术进步", 2), heading("三、结语", 1)]
    found = find_outline("d", parent, "五大议题包括哪些？", ["议题"])
    assert found is not None and [h.title for h in found.entries] == ["(一) 主权问题", "(二) 社会影响", "(三)技术进步"]
    run = [heading("国际合作应当遵循的基本原则", 4), heading("开放原则", 4), heading("包容原则", 4),
           heading("透明原则", 4),
           heading("问责原则", 4), heading("结论", 4)]
    found = find_outline("d", run, "Which principles should guide the cooperation?", ["原则"])
    assert found is not None and [h.title for h in found.entries] == ["开放原则", "包容原则", "透明原则", "问责原则"]
    assert find_outline("d", run[:3], "应遵循哪几项原则？", ["原则"]) is None  # fewer than three
    assert asked_nouns("应遵循哪几项原则？") == ["原则"]
    assert asked_nouns("五大议题中包括哪些？") == ["议题"]
    assert asked_nouns("两份文件分别提到了哪些企业行动？") == []  # "企业行动" is not a list of actions asked for
    assert asked_nouns("Which early principle documents does the paper cite?") == []
    assert asked_nouns("What three shared principles should it rest on?") == ["原则"]


def test_table_rows_and_chart_text_only_when_nothing_else_answers() -> None:
    row = "全球峰会 | 2024 年 | 《某某宣言》"
    prose = "峰会发布的宣言强调了加强国际合作对于应对潜在风险的重要性。"
    assert _selected(_s(0, 0, row, 0.9), _s(1, 0, prose, 0.88)) == [prose]
    assert _selected(_s(0, 0, row, 0.9)) == [row]
    chart = "(2019)(2023)(2022)甲国 7 乙国丙国 4 丁国 5 戊国 8 己国庚国 9 辛国 11 壬国 12"
    spending = "到2022年底,该伙伴关系已在80多个国家投资了107亿美元。"
    assert _selected(_s(0, 0, chart, 0.9), _s(1, 0, spending, 0.88)) == [spending]
    numbers = "In 2019, 2020, 2021 and 2022 the fund made 3, 4, 5 and 6 grants, 1,000 in all by 2023 (12%)."
    assert _selected(_s(0, 0, chart, 0.9), _s(1, 0, numbers, 0.88)) == [numbers]  # prose with figures


def test_title_lines_and_the_reports_own_questions_are_no_statements() -> None:
    title = "Safety and Global Governance of Generative AI Report"
    url = "//example.org/en/web/artificial-intelligence/the-framework-convention"
    prose = "The report gathers 29 commentaries on the safety and governance of generative AI."
    assert _selected(_s(0, 0, title, 0.9), _s(0, 1, url, 0.89), _s(1, 0, prose, 0.88)) == [prose]
    unpunctuated = "The panel would issue an annual report on the capabilities and risks of AI"
    assert _selected(_s(0, 0, title, 0.9), _s(1, 0, unpunctuated, 0.88)) == [unpunctuated]
    question = "这次峰会开得怎样？"
    held = "峰会于11月2日在英国的布莱奇利园落下帷幕，与会各方发表了联合声明。"
    assert _selected(_s(0, 0, question, 0.95), _s(0, 1, held, 0.9)) == [held]
    assert _selected(_s(0, 0, question, 0.95)) == [question]  # quoted only when nothing else is left


def test_the_sentence_that_goes_on_about_the_best_one_comes_along() -> None:
    best = _s(0, 0, "峰会发布的宣言（以下简称《宣言》）强调了加强国际合作的重要性。", 0.9)
    refers_back = "《宣言》指出，许多风险本质上是国际性的，因此最好通过国际合作来解决。"
    unrelated = "英国政府发表声明称，这是世界首个多国达成的此类宣言。"
    assert _selected(best, _s(0, 1, refers_back, 0.7), _s(0, 2, unrelated, 0.7)) == [best.text, refers_back]
    for following in (unrelated, "该小组将与其他国际组织合作,其任务包括:"):
        assert _selected(best, _s(0, 1, following, 0.7)) == [best.text]
    measures = _s(0, 0, "加强安全治理的标准化工作。", 0.96)
    examples = "如建立准则更新机制、研制专项标准、建设试验区等。"
    assert _selected(measures, _s(0, 1, examples, 0.8)) == [measures.text, examples]
    condition = "如果缺乏统一标准，各国的评估结果将难以互认。"
    assert _selected(measures, _s(0, 1, condition, 0.8)) == [measures.text]
    model = _s(0, 0, "Frontier models should be evaluated before release.", 0.9)
    for_example = "For example, red-teaming exercises probe them for dangerous capabilities."
    assert _selected(model, _s(0, 1, for_example, 0.7)) == [model.text, for_example]


def test_a_repeated_sentence_is_said_once_citing_both_places() -> None:
    summary = "- 联合国可以成为制定新的社会契约的平台,确保全球共同支持保护所有人的治理制度。"
    body = "- 七十 联合国可成为制定新的社会契约的平台,确保全球共同支持保护所有人的治理制度。"
    other = "咨询机构将与各国政府、私营部门、学术界和民间社会广泛协商。"
    lines = _quoted("zh", _s(0, 0, summary, 0.9), _s(1, 0, summary, 0.9), _s(2, 3, body, 0.89), _s(3, 0, other, 0.88))
    assert lines[1:] == ["联合国可以成为制定新的社会契约的平台,确保全球共同支持保护所有人的治理制度。 [1][3]",
                         f"{other} [4]"]
    part = "联合国可以成为制定新的社会契约的平台。"
    assert _selected(_s(0, 0, summary, 0.9), _s(1, 0, part, 0.89)) == [summary]


def test_quotes_drop_list_marks_and_paragraph_numbers_but_keep_counts() -> None:
    texts = ["- 151 理想的情况是,每个区域至少应有一个节点。", "- ·确定基金的愿景、成果和治理结构。",
             "- 2 名专家代表各区域参加了会议。", "340 多名受访者对调查做出了答复。",
             "三十二 各国需要共享的计算资源。", "十二 个工作组已经成立。"]
    composed = ExtractiveAnswerer().compose("zh", [_s(0, i, t, 0.9) for i, t in enumerate(texts)])
    assert composed.splitlines()[1:] == ["理想的情况是,每个区域至少应有一个节点。 [1]",
                                         "确定基金的愿景、成果和治理结构。 [1]",
                                         "2 名专家代表各区域参加了会议。 [1]", "340 多名受访者对调查做出了答复。 [1]",
                                         "各国需要共享的计算资源。 [1]", "十二 个工作组已经成立。 [1]"]
    english = ExtractiveAnswerer().compose("en", [_s(0, 0, "- 28 EU members signed the declaration in 2023.", 0.9)])
    assert english.splitlines()[1] == "28 EU members signed the declaration in 2023. [1]"


def test_a_list_question_keeps_the_list_a_chosen_sentence_introduces() -> None:
    texts = ["我们建议设立一个新的基金。", "我们衷心感谢以下政府和合作伙伴的捐助:", "- 甲国政府", "- iii.",
             "- 某某基金会", "- 某国际组织", "- 47 我们提议设立基金的目的并非保证获得计算资源。"]
    scores = [0.88, 0.9, 0.5, 0.3, 0.5, 0.5, 0.6]
    sentences = [_s(0, i, t, score) for i, (t, score) in enumerate(zip(texts, scores, strict=True))]
    assert _quoted("zh", *sentences, listing=True)[1:] == [
        "我们建议设立一个新的基金。 [1]", "我们衷心感谢以下政府和合作伙伴的捐助: [1]", "- 甲国政府 [1]",
        "- 某某基金会 [1]", "- 某国际组织 [1]"]
    english = _quoted("en", *sentences, listing=True)
    assert english[0].startswith("No answer model wrote this")  # said plainly: these are Chinese quotes
    assert english[3:6] == ["> - 甲国政府 [1]", "> - 某某基金会 [1]", "> - 某国际组织 [1]"]
    assert not any("甲国" in line for line in _quoted("zh", *sentences))  # not a list question: no list


def test_a_lead_in_shows_its_list_or_is_left_out() -> None:
    lead_in = "我们建议在联合国现有会议期间启动每年两次的政府间多利益攸关方政策对话。其目的是:"
    sentences = [_s(0, 0, lead_in, 0.9), _s(0, 1, "- a) 分享人工智能治理的最佳做法;", 0.5),
                 _s(0, 2, "- b) 讨论专家小组的报告。", 0.5),
                 _s(1, 0, "分享人工智能治理的最佳做法;", 0.89)]
    assert _quoted("zh", *sentences, listing=True)[1:] == [
        f"{lead_in} [1]", "- a) 分享人工智能治理的最佳做法; [1][2]", "- b) 讨论专家小组的报告。 [1]"]
    assert _quoted("zh", *sentences)[1:] == [
        "我们建议在联合国现有会议期间启动每年两次的政府间多利益攸关方政策对话。 [1]", "分享人工智能治理的最佳做法; [2]"]
