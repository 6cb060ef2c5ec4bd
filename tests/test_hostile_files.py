"""Malformed and hostile report files: each is skipped with its reason, named, and the rest of
the corpus still indexes (a loader's failure never stops a build)."""

from __future__ import annotations

import io
import re
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.embeddings import Embedder
from assistant.index import build_index
from assistant.ingest import load_document
from assistant.ingest.loaders import IngestError

_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _docx(path: Path, body: str) -> Path:
    """A minimal Word file with the given <w:body> content."""
    files = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override '
        'PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'wordprocessingml.document.main+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="word/document.xml"/></Relationships>',
        "word/document.xml": f'<?xml version="1.0"?><w:document {_W}><w:body>{body}</w:body></w:document>',
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    path.write_bytes(buffer.getvalue())
    return path


def _para(text: str) -> str:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"


def _table(first_cell_props: str) -> str:
    cell = "<w:tc>{props}<w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:tc>"
    row1 = "<w:tr>" + cell.format(props=f"<w:tcPr>{first_cell_props}</w:tcPr>", text="会议") + \
        cell.format(props="", text="日期") + "</w:tr>"
    row2 = "<w:tr>" + cell.format(props="", text="第一次磋商") + cell.format(props="", text="2024年3月") + "</w:tr>"
    return f"<w:tbl>{row1}{row2}</w:tbl>"


def _pdf_bomb(path: Path) -> Path:
    """A 0.2 MB PDF whose one page's content stream inflates to about 120 MB of text operators."""
    body = zlib.compress(b"BT /F1 12 Tf 72 712 Td (x) Tj ET\n" * 3_600_000, 9)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(body) + body + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.7\n"), []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


INTRO = _para("人工智能治理报告。各国就人工智能安全开展了多轮磋商，下表列出了会议及其日期。")


@pytest.mark.parametrize("props", ["<w:vMerge/>", '<w:gridSpan w:val="abc"/>', '<w:gridSpan w:val="1000000"/>',
                                   '<w:gridSpan w:val="100000000"/>'])
def test_a_malformed_word_table_is_read_cell_by_cell(tmp_path: Path, props: str) -> None:
    path = _docx(tmp_path / "table.docx", INTRO + _table(props))
    started = time.perf_counter()
    document = load_document(path, Path("table.docx"))
    assert time.perf_counter() - started < 10  # no expansion of a huge span (it took 29 s to > 100 s)
    assert "第一次磋商" in document.text and "2024年3月" in document.text


def test_a_word_bomb_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = _docx(tmp_path / "bomb.docx", INTRO + _para("风险" * 20_000_000))
    assert path.stat().st_size < 1_000_000
    with pytest.raises(IngestError, match=r"bomb\.docx: the \.docx expands to \d+ MB"):
        load_document(path, Path("bomb.docx"))


def test_hostile_files_are_skipped_by_name_and_the_rest_indexed(small_corpus: Settings, e5: Embedder) -> None:
    corpus = small_corpus.corpus_dir
    _docx(corpus / "merged.docx", INTRO + _table("<w:vMerge/>"))  # readable now: indexed
    _docx(corpus / "bomb.docx", INTRO + _para("风险" * 20_000_000))
    (corpus / "notzip.docx").write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    (corpus / "binary.html").write_bytes(bytes(range(256)) * 64)
    (corpus / "latin1.txt").write_bytes("Politique de l'IA : sécurité, équité et transparence. ".encode("latin-1") * 40)
    (corpus / "nul.md").write_bytes(b"\x00\x01\x02\xff" * 500)
    (corpus / "truncated.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nendobj\n" * 3)
    _pdf_bomb(corpus / "inflating.pdf")
    (corpus / "elements.html").write_text("<html><body>" + "<p>风险</p>" * 300_000 + "</body></html>", encoding="utf-8")
    report = build_index(small_corpus, e5, progress=False)
    assert set(report.skipped) == {"bomb.docx", "notzip.docx", "binary.html", "nul.md", "truncated.pdf",
                                   "inflating.pdf", "elements.html"}
    for name, reason in report.skipped.items():
        assert reason.startswith(name + ":") and " — " in reason, reason  # the file, what happened, what to do
    assert report.documents == 4  # the two reports, the merged-cell table and the Latin-1 text
    assert re.search(r"expands to \d+ MB", report.skipped["bomb.docx"])
    assert "safety limits" in report.skipped["inflating.pdf"]
    assert "300,002 elements" in report.skipped["elements.html"]


def test_reading_a_file_stops_at_its_time_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.ingest import loaders

    monkeypatch.setattr(loaders, "LOAD_SECONDS", -1)  # every file is over its bound at once
    path = _docx(tmp_path / "slow.docx", INTRO + _para("第二段。"))
    with pytest.raises(IngestError, match=r"slow\.docx: reading it took over -1 s"):
        load_document(path, Path("slow.docx"))
    monkeypatch.setattr(loaders, "HTML_MAX_BYTES", 10)
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>人工智能治理。</p></body></html>", encoding="utf-8")
    with pytest.raises(IngestError, match=r"page\.html: the HTML file is over"):
        load_document(page, Path("page.html"))
