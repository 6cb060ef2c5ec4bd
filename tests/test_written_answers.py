"""Written answers from the real bundled model (Qwen2.5 1.5B through llama.cpp), in process and
behind llama.cpp's OpenAI-compatible server: the model writes in the reader's language, the
system cites; few calls, small outputs."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from assistant.config import Settings
from assistant.generation import find_choice
from assistant.pipeline import Assistant

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local(corpus_assistant: Assistant) -> Iterator[Assistant]:
    settings: Settings = corpus_assistant.settings.model_copy(
        update={"llm": "auto", "llm_max_tokens": 160, "llm_timeout": 300})
    assert find_choice(settings, None).backend == "local"  # the bundled model answers by default
    yield Assistant(settings, embedder=corpus_assistant.embedder, progress=False)


def test_an_english_question_gets_an_english_answer_written_by_the_model_and_cited(local: Assistant) -> None:
    events = list(local.stream("In which country was the first AI Safety Summit held?"))
    assert events[0].kind == "evidence"
    answer = events[-1].answer
    assert answer is not None and not answer.refused, answer.notices
    assert answer.llm == "local:qwen2.5-1.5b", answer.notices
    assert 0.0 <= (answer.answerable_probability or -1) <= 1.0
    assert answer.citations and re.search(r"\[\d+\]", answer.answer)
    stating = [s for s in answer.sentences if not s.removed and s.citations]
    assert stating and all(s.supported and s.evidence for s in stating)
    assert not re.search(r"[\u4e00-\u9fff]{6,}", answer.answer)  # prose, not quotes
    assert "<" not in answer.answer and "source" not in answer.answer.lower()
    assert 0 < answer.timings_ms["first_token"] <= answer.timings_ms["total"]
    # the sampler restarts from a fixed seed: asked again, the same answer (evaluators compare runs)
    assert local.ask("In which country was the first AI Safety Summit held?").answer == answer.answer


def test_an_english_reply_cannot_hold_chinese_characters(local: Assistant) -> None:
    """Asked to copy Chinese, the model copies it; in a reply that must be English, it cannot."""
    from langchain_core.messages import HumanMessage

    chat = local.answerer("local").chat  # type: ignore[attr-defined]
    ask = [HumanMessage("Repeat exactly, character for character: 多方主体的开放合作")]
    assert re.search(r"[\u4e00-\u9fff]", str(chat.invoke(ask, max_tokens=16).content))
    english = str(chat.invoke(ask, max_tokens=16, reply_lang="en").content)
    assert english.strip() and not re.search(r"[\u3000-\u9fff]", english), english


def test_a_chinese_question_gets_a_chinese_answer_written_and_cited(local: Assistant) -> None:
    answer = local.ask("全球人工智能基金的目的是什么？")
    assert not answer.refused and answer.lang == "zh" and answer.llm == "local:qwen2.5-1.5b", answer.notices
    assert answer.citations and re.search(r"[\u4e00-\u9fff]{4}", answer.answer) and ">" not in answer.answer


def test_when_the_models_own_answer_is_unusable_it_translates_the_quotes_and_the_system_checks_them(
        local: Assistant) -> None:
    # two tokens are no answer: the quotes replace it, and the model translates the Chinese ones
    cut = Assistant(local.settings.model_copy(update={"llm_max_tokens": 2}), embedder=local.embedder,
                    progress=False)
    answer = cut.ask("What is the purpose of the Global AI Fund?")
    assert not answer.refused and answer.llm == "extractive", answer.notices
    assert any(key == "model_failed_translated" for key, _ in answer.notice_keys), answer.notices
    assert answer.answer.startswith("The reports say (translated from the original Chinese by the local:")
    translated = [line for line in answer.answer.splitlines()[1:] if not line.startswith(">")]
    assert translated and all(re.search(r"\[\d+\]$", line) for line in translated)
    assert not any(re.search(r"[\u4e00-\u9fff]{4}", line) for line in translated)
    # each translated sentence opens on its Chinese original
    english = [s for s in answer.sentences if s.citations and not re.search(r"[\u4e00-\u9fff]", s.text)]
    assert english and all(re.search(r"[\u4e00-\u9fff]{4}", s.evidence[0]) for s in english)
    # switched off, the quotes stay in Chinese
    plain = Assistant(cut.settings.model_copy(update={"llm_translate_quotes": False}), embedder=local.embedder,
                      progress=False)
    quoted = plain.ask("What is the purpose of the Global AI Fund?")
    assert any(key == "model_failed" for key, _ in quoted.notice_keys)
    assert all(line.startswith(">") for line in quoted.answer.splitlines()[1:])


def test_the_model_condenses_a_follow_up(local: Assistant) -> None:
    history = [("user", "What did the Bletchley Declaration commit countries to?"),
               ("assistant", "It committed them to cooperate internationally on AI safety risks. [1]")]
    answer = local.ask("Which countries signed it?", history=history)
    assert "Bletchley" in answer.standalone_question or "declaration" in answer.standalone_question.lower()


def test_the_openai_backend_against_llama_cpps_server(corpus_assistant: Assistant, llama_server: str) -> None:
    settings = corpus_assistant.settings.model_copy(
        update={"llm": "openai", "llm_model": "qwen2.5-1.5b", "llm_base_url": llama_server, "llm_timeout": 300,
                "llm_max_tokens": 120})
    assistant = Assistant(settings, embedder=corpus_assistant.embedder, progress=False)
    answer = assistant.ask("有多少个国家签署了布莱切利宣言？")
    assert answer.citations and not answer.refused
    assert answer.llm == "openai:qwen2.5-1.5b" or any("openai" in n for n in answer.notices)
    assert answer.answerable_probability is not None  # read off the server's log-probabilities


def test_a_figure_question_is_refused_when_the_model_finds_no_figure_in_the_evidence(local: Assistant) -> None:
    """The typed search: asked to copy the figure a quantity question asks for, the model finds it
    in evidence that gives it and finds none in evidence on the same subject that does not."""
    from assistant.answerability import Verdict
    from assistant.messages import message
    from assistant.types import AnswerKind, Evidence, Passage, ScoredSentence

    def evidence(question: str, sentence: str) -> Evidence:
        query = local.understand(question, "en")
        passage = Passage(1, "x#1", "x", "A report on AI panels", "Membership", sentence, 0.95, 0, len(sentence), "en")
        return Evidence(query=query, passages=(passage,),
                        numbered=(ScoredSentence(0, 0, sentence, 0.95, lang="en"),))

    question = "How many members does the proposed review panel have?"
    answerer = local.answerer()
    assert local.understand(question, "en").kind is AnswerKind.QUANTITY
    assert answerer.finds_value(evidence(question, "The proposed review panel has 24 members, serving in "
                                                   "their personal capacity.")) is True
    assert answerer.finds_value(evidence(question, "The proposed review panel would advise governments on "
                                                   "the safety of advanced AI systems.")) is False
    judge = local.answerability
    assert judge.with_found_value(Verdict(True, ""), True, evidence(question, "x")).answerable
    refused = judge.with_found_value(Verdict(True, ""), False, evidence(question, "x"))
    assert not refused.answerable and refused.missing == "quantity"
    assert refused.explanation("en") == message("why_quantity", "en")
    assert answerer.finds_value(evidence("Why was the panel proposed?", "It was proposed to advise.")) is None


def test_the_writing_prompt_is_kept_to_its_token_budget_by_leaving_out_the_weakest_evidence(
        local: Assistant) -> None:
    """Counted by the model's own tokenizer: evidence too long for the budget loses its
    lowest-scoring sentences (their vectors with them), never below three; within the budget it is
    left as it is."""
    import numpy as np

    from assistant.types import Evidence, Passage, ScoredSentence

    answerer = local.answerer("local")
    query = local.understand("What would the proposed review panel do?", "en")
    sentences = [f"The proposed review panel would publish report number {n} on the safety of advanced "
                 f"AI systems, with findings for governments, companies and researchers alike." for n in range(12)]
    scores = [0.9 - 0.01 * ((n * 5) % 12) for n in range(12)]  # the weakest are not simply the last
    passage = Passage(1, "x#1", "x", "A report on AI panels", "Tasks", " ".join(sentences), 0.9, 0,
                      len(" ".join(sentences)), "en")
    evidence = Evidence(query=query, passages=(passage,), vectors=np.eye(12, dtype=np.float32),
                        numbered=tuple(ScoredSentence(0, n, s, scores[n], lang="en") for n, s in enumerate(sentences)))
    size = answerer.chat.prompt_size  # type: ignore[attr-defined]
    full = size(answerer._messages(evidence, "write"))  # type: ignore[attr-defined]
    answerer.max_prompt_tokens = full - 60  # type: ignore[attr-defined]
    try:
        fitted = answerer.fit(evidence)
        assert 3 <= len(fitted.numbered) < 12
        assert size(answerer._messages(fitted, "write")) <= full - 60  # type: ignore[attr-defined]
        left_out = set(range(12)) - {s.position for s in fitted.numbered}
        assert min(scores[n] for n in range(12) if n not in left_out) >= max(scores[n] for n in left_out)
        assert [int(np.argmax(row)) for row in fitted.vectors] == [s.position for s in fitted.numbered]
        answerer.max_prompt_tokens = 10  # type: ignore[attr-defined]
        assert len(answerer.fit(evidence).numbered) == 3
        answerer.max_prompt_tokens = full  # type: ignore[attr-defined]
        assert answerer.fit(evidence) is evidence
    finally:
        answerer.max_prompt_tokens = local.settings.max_prompt_tokens  # type: ignore[attr-defined]


def test_the_model_renders_an_english_question_in_chinese_and_the_rendering_chooses_the_evidence(
        local: Assistant) -> None:
    """`llm_render_question`: the question, rendered in the reports' language, chooses the evidence
    sentences; the evidence stays the English question's (its language, its own scoring, which the
    judgement reads), and the answer is still written in English."""
    question = "How many countries signed the declaration agreed at Bletchley Park?"
    answerer = local.answerer("local")
    rendered = answerer.render(question, "en")
    assert rendered and re.search(r"[\u4e00-\u9fff]{4}", rendered), rendered
    query = local.understand(question, "en")
    retrieval = local.retriever.retrieve_queries([query], 5)[0]
    plain = local.evidence.select(retrieval)
    chosen = local.evidence.select(retrieval, local.understand(rendered, "zh"))
    assert chosen.query is query and chosen.query.lang == "en"
    assert chosen.scored == plain.scored
    assert any("28" in s.text for s in chosen.quoted)
    settings = local.settings.model_copy(update={"llm_render_question": True})
    rendering = Assistant(settings, embedder=local.embedder, progress=False)
    answer = rendering.ask(question)
    assert answer.lang == "en" and "render" in answer.timings_ms and not answer.refused, answer.notices
    assert not re.search(r"[\u4e00-\u9fff]{6,}", answer.answer)


def test_flash_attention_follows_the_setting(local: Assistant) -> None:
    """`llm_flash_attn` (off by default) reaches llama.cpp's context; with it on, the model judges
    as it does without (up to rounding), and a system prompt's saved state restored under it (the
    English question again, after a Chinese one) judges as the first evaluation did."""
    import llama_cpp

    chat = local.answerer("local").chat  # type: ignore[attr-defined]
    assert chat.flash_attn is False
    assert chat._model().context_params.flash_attn_type == llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
    settings = local.settings.model_copy(update={"llm_flash_attn": True})
    fast = Assistant(settings, embedder=local.embedder, progress=False)
    on = fast.answerer("local")
    assert on.chat.flash_attn  # type: ignore[attr-defined]
    assert on.chat._model().context_params.flash_attn_type == llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED  # type: ignore[attr-defined]
    judged = []
    for question, lang in (("In which country was the first AI Safety Summit held?", "en"),
                           ("首届人工智能安全峰会在哪个国家举行？", "zh"),
                           ("In which country was the first AI Safety Summit held?", "en")):
        query = local.understand(question, lang)  # type: ignore[arg-type]
        evidence = local.evidence.select(local.retriever.retrieve_queries([query], 5)[0])
        without, with_it = local.answerer("local").judge(evidence), on.judge(evidence)
        assert without is not None and with_it is not None and abs(without - with_it) < 0.1, (without, with_it)
        judged.append(with_it)
    assert abs(judged[0] - judged[2]) < 1e-3, judged
