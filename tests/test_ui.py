"""The chat page, served for real on 127.0.0.1 and driven in headless Chromium (Debian's
/usr/bin/chromium through Playwright). Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.config import load_settings
from assistant.pipeline import Assistant
from assistant.ui import PAGE_CSS, PAGE_JS, AssistantHolder, FeedbackLog, build_page
from tests.conftest import ROOT, free_port

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (make test installs it)")



def _serve(holder: AssistantHolder, feedback: Path) -> tuple[object, str]:
    page = build_page(holder, FeedbackLog(feedback))
    port = free_port()
    page.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                        js=PAGE_JS, css=PAGE_CSS, footer_links=[])
    return page, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def served(corpus_assistant: Assistant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    feedback = tmp_path_factory.mktemp("feedback") / "feedback.jsonl"
    page, url = _serve(AssistantHolder(corpus_assistant.settings, corpus_assistant), feedback)
    yield url, feedback
    page.close()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        yield instance
        instance.close()


def _open(browser: object, url: str, locale: str = "zh-CN", width: int = 1200) -> object:
    page = browser.new_page(locale=locale, viewport={"width": width, "height": 900})  # type: ignore[attr-defined]
    page.goto(url, wait_until="load")
    page.wait_for_selector("#question textarea", timeout=60_000)
    page.wait_for_function("document.querySelector('#status') && "
                           "document.querySelector('#status').innerText.includes('✅')", timeout=120_000)
    return page


def _ask(page: object, question: str, *, button: bool = False) -> None:
    page.fill("#question textarea", question)  # type: ignore[attr-defined]
    if button:
        page.click("#send")  # type: ignore[attr-defined]
    else:
        page.press("#question textarea", "Enter")  # type: ignore[attr-defined]


def _answer(page: object, question: str, *, button: bool = False) -> None:
    """Ask, and wait for the finished answer: its source cards and its "answered by" line. The
    cards are shown already while the answer is being written, so they alone do not say it is done."""
    _ask(page, question, button=button)
    page.wait_for_selector("#chat details.card", timeout=60_000)  # type: ignore[attr-defined]
    page.wait_for_selector("#chat .trust:not(.writing)", timeout=60_000)  # type: ignore[attr-defined]


def _last_answer(page: object) -> object:
    return page.locator("#chat .message.bot, #chat [data-testid='bot']").last  # type: ignore[attr-defined]


def _shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_chinese_question_streams_a_cited_answer_and_cards_open(served: tuple[str, Path], browser: object) -> None:
    url, _ = served
    page = _open(browser, url)
    _answer(page, "有多少个国家签署了在布莱切利园达成的那份宣言？")
    chat_text = page.inner_text("#chat")
    assert "28个国家" in chat_text and "[1]" in chat_text
    card = page.locator("#chat details.card").first
    assert card.get_attribute("open") is None
    page.locator("#chat a.cite").first.click()
    page.wait_for_function("document.querySelector('#chat details.card').open === true", timeout=5_000)
    assert card.locator("mark").count() >= 1  # the cited sentence is highlighted
    assert "extractive" in chat_text or "未使用模型" in chat_text  # which backend answered
    _shot(page, "zh-answer-card-open")
    page.close()


def test_list_answer_shows_as_a_list(served: tuple[str, Path], browser: object) -> None:
    url, _ = served
    page = _open(browser, url)
    _answer(page, "咨询机构在最后报告中提出了哪些建议？")
    items = page.locator("#chat ul li")
    assert items.count() >= 7 and items.first.inner_text().startswith("建议1:")
    assert not page.locator("#chat p", has_text="- 建议1").count()  # no literal list marks
    items.first.scroll_into_view_if_needed()
    _shot(page, "zh-list-answer")
    page.close()


def test_english_question_and_interface_language_switch(served: tuple[str, Path], browser: object) -> None:
    url, _ = served
    page = _open(browser, url, locale="en-US")
    assert page.locator("#ui-lang input[value='English']").is_checked()  # follows the browser
    # the labels follow after a round trip to the server
    page.wait_for_function("document.querySelector('#question').innerText.includes('Question')", timeout=10_000)
    _answer(page, "Which goals did the first AI Safety Summit set itself?", button=True)
    assert "Sources" in page.inner_text("#chat")
    assert "How Did the First AI Safety Summit Go?" in page.inner_text("#chat")  # English report titles
    page.locator("#ui-lang label", has_text="中文").click()
    page.wait_for_function("document.querySelector('#question').innerText.includes('问题')", timeout=10_000)
    assert "来源" in page.inner_text("#chat") and "首届人工智能安全峰会开得怎样" in page.inner_text("#chat")
    # the answer itself stays in the question's language, and says plainly that these are quotes
    chat_text = page.inner_text("#chat")
    assert "No answer model wrote this" in chat_text or "According to the reports" in chat_text
    # the reports' own words are set off as quotations
    quote = page.locator("#chat blockquote.quote").first
    assert re.search(r"[\u4e00-\u9fff]{4}", quote.inner_text())
    assert quote.evaluate("q => parseFloat(getComputedStyle(q).borderLeftWidth)") > 0
    _shot(page, "en-answer-zh-interface")
    page.close()


def test_unanswerable_question_shows_refusal_and_nearest_passages(served: tuple[str, Path], browser: object) -> None:
    url, _ = served
    page = _open(browser, url)
    _answer(page, "欧盟人工智能办公室每年的预算是多少欧元？")
    text = page.inner_text("#chat")
    assert "报告中没有找到这个问题的答案" in text and "最接近的段落" in text
    assert page.locator("#chat details.card").count() == 3
    _shot(page, "refusal")
    page.close()


def test_feedback_is_written_to_the_jsonl_file(served: tuple[str, Path], browser: object) -> None:
    url, feedback = served
    page = _open(browser, url)
    _answer(page, "全球人工智能基金由谁管理？")
    page.locator("#chat button[aria-label='赞'], #chat button[aria-label='Like']").last.click()
    page.wait_for_function("document.querySelector('#notice').innerText.includes('谢谢')", timeout=10_000)
    page.fill("#comment textarea", "回答有用，但希望更简短。")
    page.click("#send-feedback")
    page.wait_for_function("document.querySelector('#comment textarea').value === ''", timeout=10_000)
    time.sleep(0.5)
    records = [json.loads(line) for line in feedback.read_text(encoding="utf-8").splitlines()]
    assert {r["rating"] for r in records} >= {"up"}
    commented = [r for r in records if r["comment"]]
    assert commented and commented[-1]["comment"] == "回答有用，但希望更简短。"
    assert commented[-1]["question"] == "全球人工智能基金由谁管理？"
    assert commented[-1]["citations"] and commented[-1]["settings"]["llm"] == "extractive"
    # an oversized comment is refused with a message and kept in the box; the file does not grow
    size = feedback.stat().st_size
    page.fill("#comment textarea", "太长了。" * 1000)
    page.click("#send-feedback")
    page.wait_for_function("document.querySelector('#notice').innerText.includes('意见过长')", timeout=10_000)
    assert page.input_value("#comment textarea").startswith("太长了。") and feedback.stat().st_size == size
    page.close()


def test_copy_as_text_and_markdown(served: tuple[str, Path], browser: object) -> None:
    url, _ = served
    page = _open(browser, url)
    _answer(page, "人工智能办公室的职能是什么？")
    page.click("#copy-md")
    page.wait_for_selector("#copied textarea", timeout=10_000)
    page.wait_for_function("document.querySelector('#copied textarea').value.includes('**来源**')", timeout=10_000)
    copied = page.input_value("#copied textarea")
    assert "[1]" in copied and "> " in copied
    page.click("#copy-text")
    page.wait_for_function("document.querySelector('#copied textarea').value.includes('来源：')", timeout=10_000)
    page.close()


def test_narrow_window_still_shows_the_answer_and_its_cards(served: tuple[str, Path], browser: object) -> None:
    url, _ = served
    page = _open(browser, url, width=390)
    _answer(page, "布莱奇利宣言强调了什么？")
    page.locator("#chat a.cite").first.click()
    card = page.locator("#chat details.card").first
    page.wait_for_function("document.querySelector('#chat details.card').open === true", timeout=5_000)
    box = card.bounding_box()
    assert box is not None and box["width"] > 200 and box["x"] + box["width"] <= 390 + 1
    _shot(page, "narrow-390px")
    page.close()


def test_empty_question_and_ime_composition_do_not_submit(served: tuple[str, Path], browser: object) -> None:
    url, _ = served
    page = _open(browser, url)
    page.click("#send")
    page.wait_for_function("document.querySelector('#notice').innerText.includes('请输入一个问题')", timeout=10_000)
    page.fill("#question textarea", "联合国")
    page.dispatch_event("#question textarea", "keydown", {"key": "Enter", "keyCode": 229, "isComposing": True})
    time.sleep(1.5)
    assert page.input_value("#question textarea") == "联合国"  # still being typed, not sent
    assert page.locator("#chat details.card").count() == 0
    page.close()


def test_keyboard_only_use(served: tuple[str, Path], browser: object) -> None:
    url, _ = served
    page = _open(browser, url)
    page.focus("#question textarea")
    page.keyboard.type("全球数字契约")
    page.keyboard.press("Enter")
    page.wait_for_selector("#chat details.card", timeout=60_000)
    page.wait_for_selector("#chat .trust:not(.writing)", timeout=60_000)
    page.locator("#chat a.cite").first.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('#chat details.card').open === true", timeout=5_000)
    page.close()


def test_model_failure_is_shown_as_a_notice(corpus_assistant: Assistant, browser: object, tmp_path: Path) -> None:
    settings = corpus_assistant.settings.model_copy(
        update={"llm": "openai", "llm_model": "m", "llm_base_url": f"http://127.0.0.1:{free_port()}/v1",
                "llm_timeout": 5})
    assistant = Assistant(settings, embedder=corpus_assistant.embedder, progress=False)
    server, url = _serve(AssistantHolder(settings, assistant), tmp_path / "f.jsonl")
    page = _open(browser, url)
    _answer(page, "布莱奇利宣言由多少个国家签署？")
    text = page.inner_text("#chat")
    assert "⚠" in text and "openai" in text and "Traceback" not in text
    assert "模型" in text  # the notice is in the interface's language
    _shot(page, "model-failure-notice")
    page.close()
    server.close()  # type: ignore[attr-defined]


def test_settings_offer_configured_answerers_by_name_in_the_interface_language(
        served: tuple[str, Path], browser: object) -> None:
    url, _ = served
    page = _open(browser, url)
    page.click("#settings")
    assert page.locator("#model").count() == 0  # no free-text model path
    page.click("#backend input")
    options = page.locator("ul[role='listbox'] li").all_inner_texts()
    assert any("只引用原文" in o for o in options) and any("自动" in o for o in options)
    assert not any("/" in o or ".gguf" in o for o in options)
    page.close()


def test_missing_index_is_built_with_a_visible_message(browser: object, tmp_path: Path) -> None:
    empty_corpus = tmp_path / "corpus"
    empty_corpus.mkdir()
    (empty_corpus / "notes.txt").write_text("人工智能治理需要国际合作。各国应当共同制定规则。", encoding="utf-8")
    holder = AssistantHolder(load_settings(corpus_dir=empty_corpus, index_dir=tmp_path / "index"))
    server, url = _serve(holder, tmp_path / "f.jsonl")  # not started: the index is "being built"
    page = browser.new_page(locale="zh-CN")  # type: ignore[attr-defined]
    page.goto(url, wait_until="load")
    page.wait_for_selector("#question textarea", timeout=60_000)
    assert "正在首次建立报告索引" in page.inner_text("#status")
    _ask(page, "人工智能治理需要什么？")
    page.wait_for_function("document.querySelector('#notice').innerText.includes('还在建立中')", timeout=10_000)
    holder.start()
    page.wait_for_function("document.querySelector('#status').innerText.includes('已加载 1 份报告')",
                           timeout=180_000)
    page.close()
    server.close()  # type: ignore[attr-defined]
    broken = AssistantHolder(load_settings(corpus_dir=tmp_path / "nowhere", index_dir=tmp_path / "index2"))
    broken.start()
    deadline = time.monotonic() + 30
    while "❌" not in broken.status("en") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "could not be loaded" in broken.status("en") and "does not exist" in broken.status("en")


@pytest.fixture(scope="module")
def served_with_model(corpus_settings: object, e5: object) -> Iterator[str]:
    """The page as `make run` serves it: nothing set, so the bundled model answers."""
    settings = load_settings(corpus_dir=corpus_settings.corpus_dir,  # type: ignore[attr-defined]
                             index_dir=corpus_settings.index_dir, llm_timeout=240)  # type: ignore[attr-defined]
    assert settings.llm == "auto"
    assistant = Assistant(settings, embedder=e5, progress=False)  # type: ignore[arg-type]
    server, url = _serve(AssistantHolder(settings, assistant), ARTIFACTS / "feedback-model.jsonl")
    yield url
    server.close()  # type: ignore[attr-defined]


@pytest.mark.slow
def test_the_bundled_model_writes_an_english_answer_every_sentence_cited(served_with_model: str,
                                                                         browser: object) -> None:
    page = _open(browser, served_with_model, locale="en-US")
    page.wait_for_function("document.querySelector('#question').innerText.includes('Question')", timeout=10_000)
    _ask(page, "In which country was the first AI Safety Summit held?")
    # the evidence shows at once, while the model writes
    page.wait_for_selector("#chat .writing", timeout=60_000)
    assert page.locator("#chat details.card").count() >= 1 and page.locator("#stop").is_visible()
    _shot(page, "model-writing")
    page.wait_for_selector("#chat .trust:not(.writing)", timeout=240_000)
    text = _last_answer(page).inner_text()
    assert "Written by" in text and "qwen2.5-1.5b" in text, text
    body = text.split("Written by")[0]
    sentences = [s for s in re.split(r"(?<=\])\s+", body.strip()) if re.search(r"[A-Za-z]{3}", s)]
    assert sentences and all(re.search(r"\[\d+\]", s) for s in sentences), body  # every sentence cited
    assert not re.search(r"[\u4e00-\u9fff]{6,}", body)  # English prose, not Chinese quotes
    assert "<" not in body and "source id" not in body
    page.locator("#chat a.cite").first.click()
    page.wait_for_function("[...document.querySelectorAll('#chat details.card')].some(c => c.open)", timeout=5_000)
    assert page.locator("#chat details.card[open] mark").count() >= 1  # the exact source sentence
    _shot(page, "model-english-answer")
    page.close()


@pytest.mark.slow
def test_stop_leaves_the_evidence_and_says_so(served_with_model: str, browser: object) -> None:
    page = _open(browser, served_with_model)
    _ask(page, "全球人工智能基金的目的是什么？")
    page.wait_for_selector("#chat .writing", timeout=60_000)
    page.click("#stop")
    page.wait_for_selector("#chat .trust:not(.writing)", timeout=120_000)
    text = _last_answer(page).inner_text()
    assert ("已停止撰写" in text or "Written by" in text or "由模型" in text) and "Traceback" not in text
    assert page.locator("#chat details.card").count() >= 1
    page.close()
