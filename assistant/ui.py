"""The chat page officials use (Gradio): streaming answers, source cards that [n] opens, both
interface languages, settings, trust cues, feedback and copy.

The page starts at once; if the index has to be built first, it says so and answers once the
index is ready. Every error a user can cause or meet is shown as a sentence, never a traceback.
"""

from __future__ import annotations

import html
import json
import logging
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.config import Settings
from assistant.evidence import for_display
from assistant.generation import model_choices
from assistant.messages import message, render_sources
from assistant.types import Answer, Evidence, Passage

log = logging.getLogger(__name__)

UI_LANGS = {"中文": "zh", "English": "en"}

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "## 人工智能治理报告问答\n用中文或英文提问；每个回答都标注了出处，点击 [n] 查看原文。",
        "question": "问题",
        "placeholder": "例如：联合国人工智能高级别咨询机构提出了哪些建议？（回车发送）",
        "send": "发送",
        "new": "新对话",
        "chat": "对话",
        "examples": "示例问题",
        "settings": "设置",
        "backend": "由谁回答",
        "passages": "引用段落数",
        "scores": "显示相关度分数",
        "reports": "检索范围（不选 = 全部报告）",
        "feedback": "对上一个回答的意见（可选）",
        "send_feedback": "提交意见",
        "copy_text": "复制为纯文本",
        "copy_md": "复制为 Markdown",
        "copied": "已复制的内容",
        "sources": "来源",
        "nearest": "最接近的段落",
        "answered_by": "回答来自",
        "extractive": "报告原文摘录（未使用模型）",
        "written_by": "由模型 {model} 撰写；每句话都标注了出处，点击 [n] 查看原句",
        "writing": "✍ 正在撰写回答……下面是已找到的依据。",
        "stop": "停止",
        "stopped": "已停止撰写；下面是报告原文摘录。",
        "key_sentences": "关键原文",
        "evidence": "找到的依据",
        "building": "⏳ 正在首次建立报告索引，请稍候……建好后即可提问。",
        "failed": "❌ 无法加载报告索引：{error}",
        "ready": "✅ 已加载 {docs} 份报告，共 {chunks} 个段落。",
        "empty": "请输入一个问题。",
        "comment_too_long": "意见过长（{length} 个字符，上限为 {limit}）：请缩短后再发送。",
        "not_ready": "报告索引还在建立中，请稍后再提问。",
        "error": "回答时出错（{error}），请重试；如果问题持续，请联系管理员。",
        "thanks": "谢谢，意见已记录。",
        "no_answer": "还没有可以评价或复制的回答。",
        "score": "分数",
    },
    "en": {
        "title": ("## Ask the AI-governance reports\n"
                  "Ask in English or Chinese; every answer cites its sources — click [n] to read the passage."),
        "question": "Question",
        "placeholder": "e.g. What does the UN advisory body recommend? (Enter to send)",
        "send": "Send",
        "new": "New conversation",
        "chat": "Conversation",
        "examples": "Example questions",
        "settings": "Settings",
        "backend": "Who answers",
        "passages": "Passages to cite",
        "scores": "Show relevance scores",
        "reports": "Search in (none selected = all reports)",
        "feedback": "Comment on the last answer (optional)",
        "send_feedback": "Send feedback",
        "copy_text": "Copy as plain text",
        "copy_md": "Copy as Markdown",
        "copied": "Copied text",
        "sources": "Sources",
        "nearest": "Closest passages",
        "answered_by": "Answered by",
        "extractive": "quotes from the reports (no model)",
        "written_by": "Written by the {model} model; every sentence is cited — click [n] to see its source sentence",
        "writing": "✍ Writing the answer… the evidence found is below.",
        "stop": "Stop",
        "stopped": "Stopped writing; quotes from the reports are shown instead.",
        "key_sentences": "Key sentences",
        "evidence": "Evidence found",
        "building": "⏳ Building the report index for the first time… you can ask once it is ready.",
        "failed": "❌ The report index could not be loaded: {error}",
        "ready": "✅ {docs} reports loaded, {chunks} passages.",
        "empty": "Please type a question.",
        "comment_too_long": "The comment is too long ({length} characters; the limit is {limit}): shorten it and "
                            "send it again.",
        "not_ready": "The report index is still being built; please ask again in a moment.",
        "error": ("Something went wrong while answering ({error}); please try again, "
                  "and tell the administrator if it persists."),
        "thanks": "Thank you, your feedback was recorded.",
        "no_answer": "There is no answer yet to rate or copy.",
        "score": "score",
    },
}

EXAMPLES = [
    "联合国人工智能高级别咨询机构提出了哪些建议？",
    "《布莱奇利宣言》由多少个国家签署？",
    "“人工智能安全作为全球公共产品”的四项原则是什么？",
    "What does the UN advisory body propose for an international scientific panel on AI?",
    "What were the five aims of the first AI Safety Summit?",
    "Why do Chinese think tanks see the United Nations as the main channel for AI governance?",
]

# Enter during an input method's composition must not send the question (Chinese IMEs use Enter
# to commit a candidate); [n] links open their source card.
PAGE_JS = """
() => {
  document.addEventListener('keydown', (event) => {
    const box = event.target;
    if (event.key === 'Enter' && (event.isComposing || event.keyCode === 229)
        && box && box.closest && box.closest('#question')) {
      event.stopImmediatePropagation();
    }
  }, true);
  document.addEventListener('click', (event) => {
    const link = event.target.closest && event.target.closest('a.cite');
    if (!link) return;
    event.preventDefault();
    const card = document.getElementById(link.dataset.card);
    if (card) { card.open = true; card.scrollIntoView({block: 'nearest', behavior: 'smooth'}); card.focus(); }
  });
}
"""

PAGE_CSS = """
.sources { margin-top: .6em; border-top: 1px solid var(--border-color-primary); padding-top: .4em; }
.sources-title { font-weight: 600; margin-bottom: .2em; }
details.card { border: 1px solid var(--border-color-primary); border-radius: 6px; margin: .3em 0; padding: .2em .6em; }
details.card[open] { background: var(--background-fill-secondary); }
details.card summary { cursor: pointer; }
details.card .passage { white-space: pre-wrap; margin-top: .3em; line-height: 1.6; }
details.card mark { background: #fde68a; color: inherit; }
.trust { font-size: .85em; opacity: .85; margin-top: .4em; }
.notice { color: #b45309; }
.writing { font-style: italic; }
a.cite { text-decoration: none; font-weight: 600; }
blockquote.quote { border-left: 3px solid var(--border-color-primary); margin: .25em 0; padding: 0 0 0 .7em; }
blockquote.quote ul { margin: 0; }
@media (max-width: 600px) { .gradio-container { padding: 4px !important; } }
"""


class AssistantHolder:
    """Loads (and if needed builds) the assistant in the background, so the page can open at once."""

    def __init__(self, settings: Settings, assistant: Any = None) -> None:
        self.settings = settings
        self._assistant = assistant
        self._error = ""
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            if self._assistant is not None or self._thread is not None:
                return
            self._thread = threading.Thread(target=self._load, name="assistant-loader", daemon=True)
            self._thread.start()

    def _load(self) -> None:
        from assistant.pipeline import Assistant

        try:
            assistant = Assistant(self.settings, progress=True)
            assistant.warm_up()
        except Exception as err:  # shown on the page as a sentence
            log.exception("could not load the assistant")
            self._error = str(err) or type(err).__name__
            return
        self._assistant = assistant

    @property
    def assistant(self) -> Any:
        return self._assistant

    def status(self, lang: str) -> str:
        labels = LABELS[lang]
        if self._assistant is not None:
            index = self._assistant.index
            return labels["ready"].format(docs=len(index.documents), chunks=index.size)
        if self._error:
            return labels["failed"].format(error=self._error)
        return labels["building"]


MAX_COMMENT_CHARS = 2000  # a feedback comment; longer ones are refused with a message


class FeedbackLog:
    """Appends one JSON line per rating or comment; each line is written whole, under a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()


# --- rendering ---------------------------------------------------------------------------------------


def _cited_sentences(answer: Answer) -> dict[int, list[str]]:
    """For each citation number, the source sentences the answer's sentences citing it restate."""
    by_number: dict[int, list[str]] = {}
    for check in answer.sentences:
        for number in check.citations:
            by_number.setdefault(number, []).extend(check.evidence)
    return by_number


def _span_of(passage_text: str, sentence: str) -> tuple[int, int] | None:
    """Where a sentence stands in a passage, whitespace aside."""
    words = sentence.split()
    if not words:
        return None
    pattern = r"\s*".join(re.escape(w) for w in words)
    match = re.search(pattern, passage_text)
    if match is None and len(words) == 1 and len(sentence) > 12:  # a Chinese sentence: allow spaces anywhere
        match = re.search(r"\s*".join(re.escape(c) for c in sentence.strip()), passage_text)
    return (match.start(), match.end()) if match else None


def highlight(passage_text: str, sentences: Sequence[str]) -> str:
    """The passage as HTML, with the exact source sentences an answer rests on marked."""
    spans = sorted(span for span in (_span_of(passage_text, s) for s in sentences) if span)
    out, cursor = [], 0
    for start, end in spans:
        if start < cursor:
            continue
        out.append(html.escape(passage_text[cursor:start]))
        out.append(f"<mark>{html.escape(passage_text[start:end])}</mark>")
        cursor = end
    out.append(html.escape(passage_text[cursor:]))
    return "".join(out)


def _card(card_id: str, number: int, passage: Passage, title: str, text_html: str, show_scores: bool,
          score_label: str) -> str:
    section = passage.section_under(title)
    section = f" · {html.escape(section)}" if section else ""
    score = f" · {score_label} {passage.score:.3f}" if show_scores else ""
    return (f'<details class="card" id="{card_id}" tabindex="-1"><summary><b>[{number}]</b> '
            f"{html.escape(title)}{section}{score}</summary>"
            f'<div class="passage">{text_html}</div></details>')


def _paragraphs(body: str) -> list[str]:
    """Escaped answer text as HTML blocks: a line per paragraph, "> " lines as quotations, and
    runs of "- " lines as lists (in a quotation when quoted)."""
    blocks: list[str] = []
    items: list[str] = []
    items_quoted = False

    def close_list() -> None:
        if items:
            listing = "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"
            blocks.append(f'<blockquote class="quote">{listing}</blockquote>' if items_quoted else listing)
            items.clear()

    for line in body.split("\n"):
        quoted = line.startswith("&gt; ")
        text = line[5:] if quoted else line
        if text.startswith(("- ", "* ")):
            if items and quoted != items_quoted:
                close_list()
            items.append(text[2:])
            items_quoted = quoted
            continue
        close_list()
        blocks.append(f'<blockquote class="quote">{text}</blockquote>' if quoted else f"<p>{text}</p>")
    close_list()
    return blocks


def render_answer(answer: Answer, turn: int, ui_lang: str, show_scores: bool,
                  titles: dict[str, dict[str, str]]) -> str:
    """The assistant message: answer text with clickable [n], trust cues, then the source cards."""
    labels = LABELS[ui_lang]

    def title(passage: Passage) -> str:
        names = titles.get(passage.doc_id, {})
        return names.get(ui_lang) or names.get("zh") or names.get("en") or passage.title

    body = html.escape(answer.answer)
    body = re.sub(r"\[(\d+)\]", lambda m: (f'<a class="cite" href="#c{turn}-{m.group(1)}" '
                                          f'data-card="c{turn}-{m.group(1)}">[{m.group(1)}]</a>'), body)
    lines = _paragraphs(body)
    if answer.llm == "extractive":
        trust = [f'<div class="trust">{labels["answered_by"]}: {labels["extractive"]}</div>']
    else:
        model = html.escape(answer.llm.split(":", 1)[-1])
        trust = [f'<div class="trust">{labels["written_by"].format(model=model)}</div>']
    notices = [message(key, "zh" if ui_lang == "zh" else "en", **params) for key, params in answer.notice_keys] \
        or list(answer.notices)
    trust += [f'<div class="trust notice">⚠ {html.escape(n)}</div>' for n in notices]
    cards = []
    if answer.refused:
        heading = labels["nearest"]
        for i, passage in enumerate(answer.nearest, start=1):
            cards.append(_card(f"c{turn}-{i}", i, passage, title(passage), html.escape(passage.text),
                               show_scores, labels["score"]))
    else:
        heading = labels["sources"]
        citing = _cited_sentences(answer)
        for citation in answer.citations:
            text_html = highlight(citation.passage.text, citing.get(citation.n, []))
            cards.append(_card(f"c{turn}-{citation.n}", citation.n, citation.passage, title(citation.passage),
                               text_html, show_scores, labels["score"]))
    sources = (f'<div class="sources"><div class="sources-title">{heading}</div>{"".join(cards)}</div>'
               if cards else "")
    return "".join(lines) + "".join(trust) + sources


def render_progress(evidence: Evidence, streamed: str, turn: int, ui_lang: str, show_scores: bool,
                    titles: dict[str, dict[str, str]], writing: bool) -> str:
    """While the model writes: its words so far, a "writing…" line, then the evidence already found
    — the key sentences and their passages, open to read at once."""
    labels = LABELS[ui_lang]

    def title(passage: Passage) -> str:
        names = titles.get(passage.doc_id, {})
        return names.get(ui_lang) or names.get("zh") or names.get("en") or passage.title

    blocks = _paragraphs(html.escape(streamed.strip())) if streamed.strip() else []
    if writing:
        blocks.append(f'<div class="trust writing">{labels["writing"]}</div>')
    quoted = [s for s in evidence.quoted if 0 <= s.passage < len(evidence.passages)]
    if quoted:
        items = "".join(f"<li>{html.escape(for_display(s.text))} <b>[{s.passage + 1}]</b></li>" for s in quoted)
        blocks.append(f'<div class="sources"><div class="sources-title">{labels["key_sentences"]}</div>'
                      f'<blockquote class="quote"><ul>{items}</ul></blockquote></div>')
    shown = sorted({s.passage for s in quoted}) or list(range(min(3, len(evidence.passages))))
    cards = [_card(f"e{turn}-{i + 1}", i + 1, evidence.passages[i], title(evidence.passages[i]),
                   highlight(evidence.passages[i].text, [s.text for s in quoted if s.passage == i]),
                   show_scores, labels["score"]) for i in shown]
    if cards:
        blocks.append(f'<div class="sources"><div class="sources-title">{labels["evidence"]}</div>'
                      f'{"".join(cards)}</div>')
    return "".join(blocks)


def answer_as_text(answer: Answer, markdown: bool, ui_lang: str) -> str:
    """The answer and its sources, for pasting into a note or a mail."""
    sources = render_sources(answer, "markdown" if markdown else "text", ui_lang)  # type: ignore[arg-type]
    return f"{answer.answer}\n\n{sources}".strip()


# --- the page -----------------------------------------------------------------------------------------


@dataclass
class _Turn:
    question: str
    answer: Answer
    settings: dict[str, Any]


def build_page(holder: AssistantHolder, feedback: FeedbackLog) -> gr.Blocks:
    settings = holder.settings

    def titles() -> dict[str, dict[str, str]]:
        assistant = holder.assistant
        if assistant is None:
            return {}
        return {d.info.doc_id: {"zh": d.info.title_zh, "en": d.info.title_en} for d in assistant.documents()}

    def report_choices(lang: str) -> list[tuple[str, str]]:
        return [(names.get(lang) or names.get("zh") or doc_id, doc_id) for doc_id, names in titles().items()]

    choices = model_choices(settings)
    offered = {c.name for c in choices}

    def answerer_choices(lang: str) -> list[tuple[str, str]]:
        return [(c.label(lang), c.name) for c in choices]

    stops: dict[str, threading.Event] = {}  # per browser session: the reader pressed Stop

    with gr.Blocks(title="AI governance reports · 人工智能治理报告问答", analytics_enabled=False) as page:
        ui_lang = gr.State("zh")
        turns = gr.State([])  # list[_Turn], the answers behind the chat bubbles
        heading = gr.Markdown(LABELS["zh"]["title"], elem_id="heading")
        with gr.Row():
            lang_switch = gr.Radio(list(UI_LANGS), value="中文", show_label=False, elem_id="ui-lang",
                                   container=False, scale=0, min_width=200)
            status = gr.Markdown(holder.status("zh"), elem_id="status")
        chat = gr.Chatbot(label=LABELS["zh"]["chat"], elem_id="chat", height="62vh", sanitize_html=False,
                          render_markdown=False, buttons=["copy"], feedback_options=("Like", "Dislike"))
        notice = gr.Markdown("", elem_id="notice")
        with gr.Row(equal_height=True):
            question = gr.Textbox(label=LABELS["zh"]["question"], placeholder=LABELS["zh"]["placeholder"],
                                  elem_id="question", lines=1, max_lines=6, scale=5, autofocus=True)
            send = gr.Button(LABELS["zh"]["send"], variant="primary", elem_id="send", scale=1, min_width=80)
            stop = gr.Button(LABELS["zh"]["stop"], elem_id="stop", scale=1, min_width=80, visible=False)
            new_chat = gr.Button(LABELS["zh"]["new"], elem_id="new-chat", scale=1, min_width=80)
        examples = gr.Dataset(components=[question], samples=[[q] for q in EXAMPLES], label=LABELS["zh"]["examples"],
                              elem_id="examples")
        with gr.Accordion(LABELS["zh"]["settings"], open=False, elem_id="settings") as settings_box:
            # readers choose among the models the operator configured, by name; never a file path
            backend = gr.Dropdown(answerer_choices("zh"), value=settings.llm if settings.llm in offered else "auto",
                                  label=LABELS["zh"]["backend"], elem_id="backend")
            passages = gr.Slider(1, 10, value=settings.answer_passages, step=1, label=LABELS["zh"]["passages"],
                                 elem_id="passages")
            show_scores = gr.Checkbox(False, label=LABELS["zh"]["scores"], elem_id="show-scores")
            reports = gr.CheckboxGroup(report_choices("zh"), label=LABELS["zh"]["reports"], elem_id="reports")
        with gr.Row(equal_height=True):
            comment = gr.Textbox(label=LABELS["zh"]["feedback"], elem_id="comment", scale=4)
            send_comment = gr.Button(LABELS["zh"]["send_feedback"], elem_id="send-feedback", scale=1)
        with gr.Row():
            copy_text = gr.Button(LABELS["zh"]["copy_text"], elem_id="copy-text", size="sm")
            copy_md = gr.Button(LABELS["zh"]["copy_md"], elem_id="copy-md", size="sm")
        copied = gr.Textbox(label=LABELS["zh"]["copied"], elem_id="copied", lines=4, visible=False)

        # --- answering --------------------------------------------------------------------------

        def respond(text_in: str, history: list[dict[str, Any]], done: list[_Turn], lang: str, llm: str,
                    k: float, scores: bool, doc_ids: list[str], request: gr.Request) -> Iterator[Any]:
            labels = LABELS[lang]
            hidden, shown = gr.update(visible=False), gr.update(visible=True)
            text = (text_in or "").strip()
            if not text:
                yield history, done, labels["empty"], text_in, hidden
                return
            assistant = holder.assistant
            if assistant is None:
                yield history, done, labels["not_ready"], text_in, hidden
                return
            if llm not in offered:  # only the configured names are accepted
                llm = "auto"
            stop_flag = stops.setdefault(getattr(request, "session_hash", None) or "", threading.Event())
            stop_flag.clear()
            turn = len(done)
            history = [*history, {"role": "user", "content": html.escape(text)},
                       {"role": "assistant", "content": ""}]
            yield history, done, "", "", shown
            past = [(role, t) for item in done for role, t in (("user", item.question),
                                                               ("assistant", item.answer.answer))]
            streamed = ""
            evidence: Evidence | None = None
            try:
                for event in assistant.stream(text, past, llm=llm, doc_ids=doc_ids or None, k=int(k),
                                              should_stop=stop_flag.is_set):
                    if event.kind == "evidence":
                        evidence = event.evidence
                    elif event.kind == "token":
                        streamed += event.text
                    elif event.kind == "replace":
                        streamed = event.text
                    if event.answer is not None:
                        answer = event.answer
                        record = _Turn(text, answer, {"llm": llm, "passages": int(k), "reports": doc_ids,
                                                      "ui_lang": lang})
                        done = [*done, record]
                        history[-1] = {"role": "assistant",
                                       "content": render_answer(answer, turn, lang, scores, titles())}
                        yield history, done, "", "", hidden
                        return
                    content = (render_progress(evidence, streamed, turn, lang, scores, titles(), writing=True)
                               if evidence is not None else html.escape(streamed))
                    history[-1] = {"role": "assistant", "content": content}
                    yield history, done, "", "", shown
            except ValueError as err:  # a question or conversation that cannot be used, said in words
                history = history[:-2]
                yield history, done, html.escape(str(err)), text, hidden
            except Exception as err:
                log.exception("answering failed")
                if evidence is not None:  # the evidence stays, with a one-line notice
                    history[-1] = {"role": "assistant", "content": render_progress(
                        evidence, "", turn, lang, scores, titles(), writing=False)}
                    yield history, done, labels["error"].format(error=type(err).__name__), "", hidden
                    return
                history = history[:-2]
                yield history, done, labels["error"].format(error=type(err).__name__), text, hidden

        def stop_writing(request: gr.Request) -> None:
            flag = stops.get(getattr(request, "session_hash", None) or "")
            if flag is not None:
                flag.set()

        inputs = [question, chat, turns, ui_lang, backend, passages, show_scores, reports]
        outputs = [chat, turns, notice, question, stop]
        question.submit(respond, inputs, outputs, show_progress="hidden")
        send.click(respond, inputs, outputs, show_progress="hidden")
        stop.click(stop_writing, None, None, queue=False)
        new_chat.click(lambda: ([], [], "", ""), None, [chat, turns, notice, question])
        chat.clear(lambda: ([], ""), None, [turns, notice])  # the chat's own trash button
        examples.click(lambda sample: sample[0], examples, question)

        # --- feedback and copy ------------------------------------------------------------------

        def record_for(done: list[_Turn], index: int | None) -> _Turn | None:
            if not done:
                return None
            if index is None:
                return done[-1]
            position = index // 2  # chat messages alternate user / assistant
            return done[position] if 0 <= position < len(done) else done[-1]

        def log_feedback(item: _Turn, rating: str | None, text: str) -> None:
            feedback.append({
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "question": item.question,
                "lang": item.answer.lang,
                "answer": item.answer.answer,
                "refused": item.answer.refused,
                "llm": item.answer.llm,
                "citations": [c.to_dict() for c in item.answer.citations],
                "rating": rating,
                "comment": text,
                "settings": item.settings,
            })

        def on_like(done: list[_Turn], lang: str, data: gr.LikeData) -> str:
            index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
            item = record_for(done, int(index))
            if item is None:
                return LABELS[lang]["no_answer"]
            log_feedback(item, "up" if data.liked else "down", "")
            return LABELS[lang]["thanks"]

        chat.like(on_like, [turns, ui_lang], notice)

        def on_comment(text: str, done: list[_Turn], lang: str) -> tuple[str, str]:
            item = record_for(done, None)
            if item is None:
                return LABELS[lang]["no_answer"], text
            if not text.strip():
                return LABELS[lang]["empty"], text
            if len(text) > MAX_COMMENT_CHARS:  # kept in the box, not written: the feedback file stays bounded
                return LABELS[lang]["comment_too_long"].format(length=len(text), limit=MAX_COMMENT_CHARS), text
            log_feedback(item, None, text.strip())
            return LABELS[lang]["thanks"], ""

        send_comment.click(on_comment, [comment, turns, ui_lang], [notice, comment])
        comment.submit(on_comment, [comment, turns, ui_lang], [notice, comment])

        def on_copy(done: list[_Turn], lang: str, markdown: bool) -> Any:
            item = record_for(done, None)
            if item is None:
                return gr.update(value=LABELS[lang]["no_answer"], visible=True)
            return gr.update(value=answer_as_text(item.answer, markdown, lang), visible=True)

        clipboard_js = "(value) => { try { navigator.clipboard.writeText(value); } catch (e) {} return value; }"
        copy_text.click(lambda d, lang: on_copy(d, lang, False), [turns, ui_lang], copied).then(
            None, copied, None, js=clipboard_js)
        copy_md.click(lambda d, lang: on_copy(d, lang, True), [turns, ui_lang], copied).then(
            None, copied, None, js=clipboard_js)

        # --- interface language and index status -----------------------------------------------

        def switch(choice: str, done: list[_Turn], history: list[dict[str, Any]], scores: bool) -> tuple[Any, ...]:
            lang = UI_LANGS.get(choice, "zh")
            labels = LABELS[lang]
            rerendered = list(history)
            for i, item in enumerate(done):  # source cards follow the interface language too
                if 2 * i + 1 < len(rerendered):
                    rerendered[2 * i + 1] = {"role": "assistant",
                                             "content": render_answer(item.answer, i, lang, scores, titles())}
            return (
                lang, gr.update(value=labels["title"]), holder.status(lang), rerendered,
                gr.update(label=labels["question"], placeholder=labels["placeholder"]),
                gr.update(value=labels["send"]), gr.update(value=labels["new"]),
                gr.update(label=labels["examples"]), gr.update(label=labels["settings"]),
                gr.update(label=labels["backend"], choices=answerer_choices(lang)), gr.update(value=labels["stop"]),
                gr.update(label=labels["passages"]), gr.update(label=labels["scores"]),
                gr.update(label=labels["reports"], choices=report_choices(lang)),
                gr.update(label=labels["feedback"]), gr.update(value=labels["send_feedback"]),
                gr.update(value=labels["copy_text"]), gr.update(value=labels["copy_md"]),
                gr.update(label=labels["copied"]), gr.update(label=labels["chat"]),
            )

        lang_switch.change(switch, [lang_switch, turns, chat, show_scores],
                           [ui_lang, heading, status, chat, question, send, new_chat, examples, settings_box,
                            backend, stop, passages, show_scores, reports, comment, send_comment, copy_text,
                            copy_md, copied, chat])
        show_scores.change(lambda choice, d, h, s: switch(choice, d, h, s)[3],
                           [lang_switch, turns, chat, show_scores], chat)
        page.load(None, None, lang_switch,
                  js="() => (navigator.language || 'zh').toLowerCase().startsWith('zh') ? '中文' : 'English'")

        timer = gr.Timer(2.0)

        def poll(lang: str) -> tuple[str, Any, Any]:
            ready = holder.assistant is not None
            return holder.status(lang), gr.update(choices=report_choices(lang)), gr.Timer(active=not ready)

        timer.tick(poll, ui_lang, [status, reports, timer])
    return page


def launch(settings: Settings, host: str = "127.0.0.1", port: int = 7860, root_path: str = "",
           share: bool = False, assistant: Any = None) -> None:
    holder = AssistantHolder(settings, assistant)
    holder.start()
    page = build_page(holder, FeedbackLog(settings.feedback_path))
    page.queue(default_concurrency_limit=4).launch(
        server_name=host, server_port=port, root_path=root_path or None, share=share, show_error=False,
        js=PAGE_JS, css=PAGE_CSS, footer_links=[], quiet=False)
