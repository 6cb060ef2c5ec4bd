"""Loaders for every format, bad files, and the cleaning of each kind of noise on the real reports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.ingest import IngestError, load_document
from assistant.ingest.cleaning import clean
from assistant.ingest.loaders import decode_text, load_raw_text
from tests.conftest import CORPUS

ZH_PARAGRAPH = "人工智能技术是新一轮科技革命和产业变革最具代表性的颠覆性技术，给人类社会带来巨大发展机遇。"


def _doc(name: str):
    path = CORPUS / name
    return load_document(path, Path(name))


# --- building real files of each format --------------------------------------------------------


def make_pdf(path: Path, pages: list[list[str]], password: str | None = None) -> Path:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path), encrypt=password)
    for lines in pages:
        pdf.setFont("STSong-Light", 11)
        y = 800
        for line in lines:
            pdf.drawString(60, y, line)
            y -= 18
        pdf.showPage()
    pdf.save()
    return path


def make_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("人工智能治理报告", level=1)
    document.add_heading("第一章 总体情况", level=2)
    document.add_paragraph(ZH_PARAGRAPH)
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "机构", "年份"
    table.cell(1, 0).text, table.cell(1, 1).text = "联合国", "2024"
    document.save(str(path))
    return path


def test_txt_md_html_docx_pdf_load_with_structure(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(f"报告标题\n\n{ZH_PARAGRAPH}\n", encoding="utf-8")
    (tmp_path / "b.md").write_text(f"# Governance Report\n\n## Scope\n\n{ZH_PARAGRAPH}\n", encoding="utf-8")
    (tmp_path / "c.html").write_text(
        "<html><head><meta charset='utf-8'><script>var x=1;</script></head><body>"
        "<nav>menu</nav><h1>政策简报</h1><h2>背景</h2><p>" + ZH_PARAGRAPH + "</p></body></html>",
        encoding="utf-8")
    make_docx(tmp_path / "d.docx")
    make_pdf(tmp_path / "e.pdf", [["全球人工智能治理研究报告", ZH_PARAGRAPH[:30], ZH_PARAGRAPH[30:]]])

    for name in ["a.txt", "b.md", "c.html", "d.docx", "e.pdf"]:
        document = load_document(tmp_path / name, Path(name))
        assert "颠覆性技术" in document.text, name
        assert document.lang == "zh"

    md = load_document(tmp_path / "b.md", Path("b.md"))
    assert [(h.level, h.title) for h in md.headings] == [(1, "Governance Report"), (2, "Scope")]
    assert "#" not in md.text
    html = load_document(tmp_path / "c.html", Path("c.html"))
    assert "var x" not in html.text and "menu" not in html.text
    assert [h.title for h in html.headings][:2] == ["政策简报", "背景"]
    docx_doc = load_document(tmp_path / "d.docx", Path("d.docx"))
    assert [(h.level, h.title) for h in docx_doc.headings][:2] == [
        (1, "人工智能治理报告"), (2, "第一章 总体情况")]
    assert "联合国 | 2024" in docx_doc.text
    pdf = load_document(tmp_path / "e.pdf", Path("e.pdf"))
    # the PDF line break inside the sentence is joined
    assert ZH_PARAGRAPH in pdf.text


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "big5", "utf-16", "utf-8-sig"])
def test_text_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    import opencc

    text = opencc.OpenCC("s2t").convert(ZH_PARAGRAPH) if encoding == "big5" else ZH_PARAGRAPH
    path = tmp_path / f"{encoding}.txt"
    path.write_bytes(text.encode(encoding))
    assert decode_text(path.read_bytes(), path) == text


# --- bad input ---------------------------------------------------------------------------------


def _error_for(path: Path) -> IngestError:
    with pytest.raises(IngestError) as caught:
        load_raw_text(path)
    return caught.value


def test_bad_files_get_one_line_errors_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.md").write_text("  \n\n \t\n", encoding="utf-8")
    (tmp_path / "image.txt").write_bytes(bytes(range(256)) * 20)
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj <<>> garbage with no xref\n")
    make_pdf(tmp_path / "locked.pdf", [[ZH_PARAGRAPH[:20]]], password="secret")
    (tmp_path / "slides.pptx").write_bytes(b"PK\x03\x04 not really")
    (tmp_path / "broken.docx").write_bytes(b"this is not a zip file")
    cases = {
        "empty.txt": "empty",
        "blank.md": "no text",
        "image.txt": "binary",
        "broken.pdf": "damaged",
        "locked.pdf": "encrypted",
        "slides.pptx": "unsupported format",
        "broken.docx": "damaged",
    }
    for name, phrase in cases.items():
        error = _error_for(tmp_path / name)
        message = str(error)
        assert message.startswith(name), message
        assert phrase in message, message
        assert "\n" not in message
        assert error.advice  # says what to do


def test_undecodable_bytes_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "weird.txt"
    path.write_bytes(b"\xff\xfe\xfd" * 3 + b"\x81" + b"\x80\x80\x80" * 50)
    try:
        text = load_raw_text(path)
    except IngestError as err:
        assert "weird.txt" in str(err)
    else:  # if a fallback decoding was found, it must be text, not a crash
        assert isinstance(text, str)


# --- cleaning each kind of noise, on the real reports ------------------------------------------


def test_table_of_contents_is_removed() -> None:
    d000, d001, d002, d003 = (_doc(n) for n in [
        "000_dfe536e0a0ce0807.txt", "001_b7cc2b2aa730153b.txt", "002_071b5aa2b9b7c488.txt",
        "003_bbe521c40ca0eda9.txt"])
    assert "目 录" not in d000.text and "编者的话\tI" not in d000.text
    assert not re.search(r"致谢\s*56", d000.text)
    assert "数据安全和隐私保护9" not in d001.text
    assert not re.search(r"执行摘要\s*7", d002.text)
    assert "-----------" not in d003.text
    # the headings themselves stay where the body text has them
    assert "编者的话\n本报告是由多元的作者观点汇集而成" in d000.text


def test_download_notice_is_removed() -> None:
    text = _doc("000_dfe536e0a0ce0807.txt").text
    assert "试下载" not in text and "book118" not in text
    assert text.rstrip().endswith("造")  # the report itself stops mid-sentence


def test_running_head_inside_a_sentence_is_removed_and_the_sentence_rejoined() -> None:
    text = _doc("000_dfe536e0a0ce0807.txt").text
    assert "甚至出现了一定程度上的社会焦虑" in text


def test_lines_broken_mid_sentence_are_joined() -> None:
    text = _doc("001_b7cc2b2aa730153b.txt").text
    assert "国际电工委员会等技术社群" in text
    assert "也对原有社会秩序带来了冲击" in text
    assert "增强抗风险的安全能力和韧性。" in text
    # but a title is not glued to the author line after it
    d000 = _doc("000_dfe536e0a0ce0807.txt").text
    assert "以加速实现全球可持续发展目标\n龚克\n" in d000
    # nor a chapter heading, however long, to the paragraph after it
    assert "第三章，人工智能治理助力发展中国家与全球可持续发展\n专家们认为" in d000
    assert "第三章，人工智能治理助力发展中国家与全球可持续发展" in [
        h.title for h in _doc("000_dfe536e0a0ce0807.txt").headings]


def test_stray_spaces_between_chinese_characters_are_removed() -> None:
    text = _doc("001_b7cc2b2aa730153b.txt").text
    assert "生成式人工智能服务管理暂行办法" in text
    assert "人 工智能" not in text
    d002 = _doc("002_071b5aa2b9b7c488.txt").text
    assert "分析国际人工智能治理问题" in d002
    # the space after a paragraph number is kept
    assert "- 三十 这种关于治理办法" in d002


def test_figure_and_chart_leftovers_are_removed() -> None:
    text = _doc("002_071b5aa2b9b7c488.txt").text
    assert "图(b): 人工智能相关标准的数目" not in text
    assert "信息来源: 电气电子工程师学会" not in text
    assert not re.search(r"(10 ){5}", text)
    assert "<mark>" not in text and "**" not in text
    # a survey footnote repeated under several charts is kept once
    assert text.count("43名答复者(12%)表示拥有多个国籍") == 1
    d003 = _doc("003_bbe521c40ca0eda9.txt").text
    assert "理念框架图" not in d003


def test_page_numbers_and_running_heads_of_a_pdf_are_removed(tmp_path: Path) -> None:
    body = [
        "各国应加强人工智能安全研究合作，共同应对前沿人工智能带来的风险与挑战。",
        "国际社会需要建立包容、开放、公正的全球治理机制，推动技术造福人类。",
    ]
    pages = [["全球人工智能治理研究报告", f"第{n}节：{body[0]}", body[1], f"（第{n}节完）", f"- {n} -"]
             for n in range(1, 6)]
    document = load_document(make_pdf(tmp_path / "r.pdf", pages), Path("r.pdf"))
    assert "全球人工智能治理研究报告" not in document.text
    assert not re.search(r"-\s*\d\s*-", document.text)
    assert document.text.count(body[0]) == 5
    assert "第3节：各国应加强" in document.text


def test_markdown_inline_markup_is_removed_but_text_kept() -> None:
    blocks = clean("WFEO 发布了[《人工智能伦理建议书》](#)，**这很重要**。<mark>高亮</mark>文字⁴。")
    assert blocks[0].text == "WFEO 发布了《人工智能伦理建议书》，这很重要。高亮文字。"


def test_footnote_marks_are_removed_but_a_raised_year_is_kept() -> None:
    raw = "各国通过了两项决议¹⁴表明了立场。\n\n²⁰²⁴年2月,理事会对57个实体进行了调查。\n"
    text = "\n".join(block.text for block in clean(raw))
    assert "决议表明了立场。" in text and "2024年2月,理事会" in text


def test_every_report_detects_its_language_and_keeps_english_headings() -> None:
    for path in sorted(CORPUS.glob("*.txt")):
        document = load_document(path, Path(path.name))
        assert document.lang == "zh"
        assert document.headings, path.name
