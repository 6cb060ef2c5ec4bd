"""A question is understood once: its answer kind, identifiers and list nouns come from the
question words alone (the vocabularies are data files), in either language."""

from __future__ import annotations

import pytest

from assistant.pipeline import Assistant
from assistant.types import AnswerKind
from assistant.understanding import answer_kind, asked_nouns, identifiers, validate_question
from assistant.understanding.analyzer import QuestionError, proper_names
from assistant.understanding.kinds import asked_kinds, read_patterns


@pytest.mark.parametrize(("question", "lang", "kind"), [
    ("这个基金每年需要多少资金？", "zh", AnswerKind.QUANTITY),
    ("How many member states took part in the consultation?", "en", AnswerKind.QUANTITY),
    ("What percentage of respondents were women?", "en", AnswerKind.QUANTITY),
    ("该论坛什么时候首次举办？", "zh", AnswerKind.DATE),
    ("When did the panel publish its interim findings?", "en", AnswerKind.DATE),
    ("In which year was the roadmap issued?", "en", AnswerKind.DATE),
    ("这个项目要持续多长时间？", "zh", AnswerKind.DURATION),
    ("How long is each member's term?", "en", AnswerKind.DURATION),
    ("科学小组多久发布一次报告？", "zh", AnswerKind.FREQUENCY),
    ("How often should the dialogue convene?", "en", AnswerKind.FREQUENCY),
    ("这篇评论的作者是谁？", "zh", AnswerKind.PERSON),
    ("Who chairs the expert group?", "en", AnswerKind.PERSON),
    ("报告列举了哪些挑战？", "zh", AnswerKind.LIST),
    ("Which countries endorsed the statement?", "en", AnswerKind.LIST),
    ("What are the main obstacles to data sharing?", "en", AnswerKind.LIST),
    ("什么是数字鸿沟？", "zh", AnswerKind.DEFINITION),
    ("What is a regulatory sandbox?", "en", AnswerKind.DEFINITION),
    ("为什么发展中国家难以参与治理？", "zh", AnswerKind.REASON),
    ("Why do the authors favour a networked approach?", "en", AnswerKind.REASON),
    ("报告如何看待开源模型？", "zh", AnswerKind.OPEN),
    ("How does the report see open-source models?", "en", AnswerKind.OPEN),
])
def test_answer_kind_is_read_off_the_question_words(question: str, lang: str, kind: AnswerKind) -> None:
    assert answer_kind(question, lang) is kind  # type: ignore[arg-type]


def test_how_often_is_not_how_long() -> None:
    assert answer_kind("该委员会多久开一次会？", "zh") is AnswerKind.FREQUENCY
    assert answer_kind("该委员会的任期多久？", "zh") is AnswerKind.DURATION


def test_a_question_asking_several_things_has_a_kind_per_part() -> None:
    assert asked_kinds("When was the fund set up, and what does it pay for?", "en") == (
        AnswerKind.DATE, AnswerKind.OPEN)
    assert asked_kinds("Would it create new rights? What would it cover instead?", "en") == (
        AnswerKind.OPEN, AnswerKind.OPEN)
    assert asked_kinds("小组每年开几次会，会议放在哪些城市？", "zh") == (AnswerKind.QUANTITY, AnswerKind.LIST)
    # one question, however many commas
    assert asked_kinds("How many members, by region, does the panel have?", "en") == (AnswerKind.QUANTITY,)
    assert asked_kinds("根据报告，2023年有多少个国家参加了峰会？", "zh") == (AnswerKind.QUANTITY,)
    assert asked_kinds("How many experts took part, and how many countries did they come from?", "en") == (
        AnswerKind.QUANTITY, AnswerKind.QUANTITY)


def test_a_check_for_one_kind_leaves_a_question_asking_something_else_too(corpus_assistant: Assistant) -> None:
    """"When …, and what …?" can be answered in part without the date: the date check (and the
    model's search for the date) is for questions asking only for dates."""
    from assistant.answerability.checks import ALL_CHECKS

    date = ALL_CHECKS["date"]
    assert date.applies(corpus_assistant.understand("When was the scientific panel set up?", "en"))
    compound = corpus_assistant.understand("When was the scientific panel set up, and what will it report on?", "en")
    assert compound.kind is AnswerKind.DATE and not compound.only_asks(AnswerKind.DATE)
    assert not date.applies(compound)


def test_every_pattern_in_the_data_file_compiles_and_names_a_kind() -> None:
    patterns = read_patterns()
    assert {kind for kind, _, _ in patterns} == set(AnswerKind) - {AnswerKind.OPEN}
    assert {lang for _, lang, _ in patterns} == {"zh", "en"}


def test_identifiers_are_normalised_and_years_are_not_identifiers() -> None:
    assert identifiers("What does level ASL‑3 require?") == ["asl-3"]
    assert identifiers("第 78 / 311 号决议说了什么？") == ["78/311"]
    assert identifiers("What did the 2025 summit decide?") == []


def test_a_chinese_question_names_people_and_products_that_read_as_names() -> None:
    assert proper_names("刘德明教授在报告中对人工智能治理提出了什么建议？", "zh") == ["刘德明"]
    assert proper_names("麦克斯韦在会上说了什么？", "zh") == ["麦克斯韦"]  # a foreign name, transliterated
    assert proper_names("NVIDIA的芯片出口受到哪些限制？", "zh") == ["NVIDIA"]
    # jieba's dictionary tags some common words as names; they do not read as names
    assert proper_names("这台显微镜由谁研制？", "zh") == []
    # a Chinese report writes a Western name in Chinese characters: an English question names none to look for
    assert proper_names("What did Kamala Harris announce at the summit?", "en") == []


def test_list_nouns_come_from_the_data_file_in_both_languages() -> None:
    assert asked_nouns("该计划包括哪几项措施？") == ["措施", "举措"] or "措施" in asked_nouns("该计划包括哪几项措施？")
    assert asked_nouns("Which guiding principles does the charter set out?") == ["原则"]
    assert asked_nouns("谁签署了这份声明？") == []


def test_questions_that_cannot_be_used_get_a_message_in_both_languages() -> None:
    with pytest.raises(QuestionError, match="empty") as empty:
        validate_question("  ", 100)
    assert "问题为空" in str(empty.value)
    with pytest.raises(QuestionError, match="not valid text"):
        validate_question("AI \ud800 safety", 100)
    with pytest.raises(QuestionError, match="问题过长"):
        validate_question("人工智能" * 50, 100)
    assert validate_question("  What is AI?  ", 100) == "What is AI?"
