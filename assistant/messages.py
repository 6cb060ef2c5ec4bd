"""Every sentence a reader sees, in both languages, and the one rendering of an answer's sources.

The terminal, the API's text answers and the chat page's copy-as-text all list sources with
`render_sources`; refusals, notices and errors come from `message`. Logic lives elsewhere: this
module only words things.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from assistant.types import Answer, Lang, Passage

Style = Literal["brief", "text", "markdown", "terminal"]

MESSAGES: dict[str, dict[str, str]] = {
    # questions and conversations that cannot be used
    "question_empty": {"zh": "问题为空：请输入一个问题。", "en": "The question is empty: type a question."},
    "question_unreadable": {"zh": "问题中有无法识别的字符（如孤立的代理字符）：请删除后重新输入。",
                            "en": "The question holds characters that are not valid text (e.g. a lone "
                                  "surrogate): remove them and ask again."},
    "question_too_long": {"zh": "问题过长（{length} 个字符，上限为 {limit}）：请缩短问题，"
                                "或调整 ASSISTANT_MAX_QUESTION_CHARS。",
                          "en": "The question is too long ({length} characters; the limit is {limit}): shorten it, "
                                "or raise ASSISTANT_MAX_QUESTION_CHARS."},
    # answers
    "not_found": {"zh": "报告中没有找到这个问题的答案。下面列出最接近的段落，供参考。",
                  "en": "The reports do not answer this question. The closest passages are listed below for "
                        "reference."},
    "lead_in": {"zh": "报告中的相关内容：", "en": "According to the reports:"},
    "lead_in_quoted": {"zh": "报告原文（英文）如下：",
                       "en": "The reports say (quoted in the original Chinese):"},
    "no_model_quotes": {"zh": "没有使用模型来写回答，以下是报告原文（英文）的摘录：",
                        "en": "No answer model wrote this: these are the reports' own sentences, in the original "
                              "Chinese (click [n] for each source):"},
    "lead_in_translated": {"zh": "报告中的相关内容（{backend} 模型译自英文原文，点击 [n] 查看原句）：",
                           "en": "The reports say (translated from the original Chinese by the {backend} model; "
                                 "click [n] for each source sentence):"},
    "weak_evidence": {"zh": "报告中可能没有直接回答这个问题的内容，请对照下面引用的原文核实。",
                      "en": "The reports may not answer this directly: check the answer against the quoted "
                            "passages."},
    "model_failed": {"zh": "模型（{backend}）未能给出可用的回答（{reason}），以下是从报告中直接摘录的答案。",
                     "en": "The {backend} model gave no usable answer ({reason}); showing quotes from the reports "
                           "instead."},
    "model_failed_translated": {"zh": "模型（{backend}）未能给出可用的回答（{reason}），以下是它翻译的报告原句。",
                                "en": "The {backend} model gave no usable answer of its own ({reason}); showing the "
                                      "reports' sentences, translated by it, instead."},
    # why a written answer could not be shown (the {reason} of model_failed)
    "problem_empty": {"zh": "回答为空", "en": "it returned an empty answer"},
    "problem_client_gone": {"zh": "读者已离开", "en": "the reader went away"},
    "problem_timeout": {"zh": "撰写超时（见 llm_timeout 设置）", "en": "it took longer than the llm_timeout setting"},
    "problem_repeated": {"zh": "回答不断重复", "en": "it repeated itself"},
    "problem_language": {"zh": "回答用错了语言", "en": "it answered in the wrong language"},
    "problem_unsupported": {"zh": "回答中没有一句话能在报告中找到依据",
                            "en": "none of its sentences is supported by the reports"},
    "problem_partly_unsupported": {"zh": "回答中有些话在报告中找不到依据",
                                   "en": "some of its sentences are not supported by the reports"},
    "problem_uncited": {"zh": "回答中没有一句话复述报告的内容", "en": "none of its sentences restates the reports"},
    "model_stopped": {"zh": "已停止撰写；以下是报告原文摘录。",
                      "en": "Writing was stopped; quotes from the reports follow."},
    "markers_dropped": {"zh": "回答中的引用 {listed} 不对应任何来源，已删除。",
                        "en": "Citation(s) {listed} pointed to no source and were removed."},
    "sentences_removed": {"zh": "删除了 {count} 句在来源中找不到依据的话。",
                          "en": "{count} sentence(s) no source supports were removed."},
    "untranslated": {"zh": "有 {count} 句报告原文未能可靠地译成中文，原文见 {cites}",
                     "en": "{count} sentence(s) of the reports could not be translated reliably; "
                           "the original: {cites}"},
    "untranslated_item": {"zh": "第 {number} 项未能可靠地译成中文，见原文",
                          "en": "item {number}, not translated reliably: see the original"},
    "translations_unchecked": {"zh": "有 {count} 句译文未能与原文核对一致（标为 ⚠），其中的名称和细节可能有误："
                                     "点击 [n] 查看原句。",
                               "en": "{count} translated sentence(s) could not be checked against the original "
                                     "(marked ⚠): names and details in them may be wrong; click [n] to read it."},
    "sentences_unsupported": {"zh": "有 {count} 句话在所引来源中找不到依据（标为 ⚠），请核对原文。",
                              "en": "{count} sentence(s) are not supported by the sources (marked ⚠); check them."},
    "replaced_stream": {"zh": "\n\n——以上模型回答不可用，以下为报告原文摘录——\n",
                        "en": "\n\n--- the model's answer above could not be used; quotes from the reports "
                              "follow ---\n"},
    "renumbered": {"zh": "附上引用的回答：", "en": "The answer with its citations:"},
    # why a question was refused
    "why_passages": {"zh": "没有可检索的段落。", "en": "There are no passages to search."},
    "why_score": {"zh": "找到的段落与问题的相关度太低。", "en": "The passages found are too far from the question."},
    "why_figure": {"zh": "找到的段落都没有给出问题中的数字“{detail}”。",
                   "en": "None of the passages found states the question's figure “{detail}”."},
    "why_identifier": {"zh": "找到的段落都没有提到“{detail}”。",
                       "en": "None of the passages found mentions “{detail}”."},
    "why_title": {"zh": "找到的段落都没有提到问题引用的名称“{detail}”。",
                  "en": "None of the passages found names “{detail}”, which the question quotes."},
    "why_names": {"zh": "找到的段落都没有提到问题中的“{detail}”。",
                  "en": "None of the passages found mentions “{detail}”, named in the question."},
    "why_quantity": {"zh": "找到的段落没有给出所问的数量。",
                     "en": "The passages found give no figure for what is asked."},
    "why_duration": {"zh": "找到的段落没有给出所问的时长。", "en": "The passages found give no duration for it."},
    "why_frequency": {"zh": "找到的段落没有给出所问的频率。", "en": "The passages found give no frequency for it."},
    "why_date": {"zh": "找到的段落没有给出所问的日期或时间。", "en": "The passages found give no date for it."},
    "why_model": {"zh": "模型判断找到的段落没有回答这个问题。",
                  "en": "The model judged that the passages found do not answer this question."},
    "why_evidence": {"zh": "找到的段落与问题所问的内容不够吻合，不足以作答。",
                     "en": "The passages found match too little of what is asked to answer it."},
    # sources
    "sources": {"zh": "来源：", "en": "Sources:"},
    "nearest": {"zh": "最接近的段落：", "en": "Closest passages:"},
}


@dataclass(frozen=True)
class Worded:
    """A message used as a value of another ("the model failed ({reason})"): worded in whatever
    language the outer message is worded in, so a notice can be re-worded for the page's language."""

    key: str


def message(key: str, lang: Lang | Literal["both"], **values: Any) -> str:
    """The sentence `key` in `lang` ("both": Chinese / English, for when the language is unknown)."""
    entry = MESSAGES[key]
    if lang == "both":
        return f"{message(key, 'zh', **values)} / {message(key, 'en', **values)}"
    values = {k: message(v.key, lang) if isinstance(v, Worded) else v for k, v in values.items()}
    return entry[lang].format(**values)


def source_list(answer: Answer) -> list[tuple[int, Passage]]:
    """The passages an answer lists under it: its citations, or for a refusal the closest passages."""
    return [(c.n, c.passage) for c in answer.citations] or list(enumerate(answer.nearest, start=1))


def render_sources(answer: Answer, style: Style = "text", lang: Lang | None = None) -> str:
    """The sources block under an answer: "brief" (where each is: the API's text answers),
    "text" (with the passages: copy as text), "markdown" (copy as Markdown) or "terminal" (with
    offsets). `lang`: the heading's language (default: the
    answer's)."""
    listed = source_list(answer)
    if not listed:
        return ""
    heading = message("nearest" if answer.refused and not answer.citations else "sources", lang or answer.lang)
    lines = [f"**{heading.rstrip('：:')}**" if style == "markdown" else heading]
    for number, passage in listed:
        where = passage.where()
        text = " ".join(passage.text.split())
        if style == "markdown":
            lines.append(f"{number}. *{where}* ({passage.chunk_id})\n   > {text}")
        elif style == "brief":
            lines.append(f"[{number}] {where} ({passage.chunk_id})")
        elif style == "terminal":
            lines.append(f"  [{number}] {where}  ({passage.chunk_id}, {passage.char_start}–{passage.char_end})")
        else:
            lines.append(f"[{number}] {where} ({passage.chunk_id}): {text}")
    return "\n".join(lines)
