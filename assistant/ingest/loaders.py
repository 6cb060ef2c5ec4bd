"""One loader per file format. Each returns the raw text of a file.

Raw text conventions shared by all loaders, read by the cleaner: a line starting with `#`
marks a heading whose level is the number of `#` (from .md, .docx and .html structure), and
a form feed `\\f` separates pages (from .pdf).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

from assistant.language import cjk_count, to_simplified

log = logging.getLogger(__name__)


class IngestError(Exception):
    """A file cannot be read. The message names the file and says what to do."""

    def __init__(self, path: Path | str, problem: str, advice: str) -> None:
        self.path = str(path)
        self.problem = problem
        self.advice = advice
        super().__init__(f"{Path(path).name}: {problem} — {advice}")


# ---------------------------------------------------------------------------------------------
# text decoding


def _looks_binary(data: bytes) -> bool:
    sample = data[:8192]
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False  # UTF-16 with a byte-order mark
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return controls > len(sample) * 0.05


def _common_chinese_share(text: str) -> float:
    """Share of CJK characters that are common simplified characters (in GB2312)."""
    cjk = [ch for ch in to_simplified(text[:4000]) if cjk_count(ch)]
    if not cjk:
        return 0.0
    common = 0
    for ch in cjk:
        try:
            ch.encode("gb2312")
            common += 1
        except UnicodeEncodeError:
            pass
    return common / len(cjk)


def decode_text(data: bytes, path: Path | str) -> str:
    """Decode text bytes: UTF-8 (with or without BOM), UTF-16, GB18030/GBK or Big5."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    decoded: dict[str, str] = {}
    for encoding in ("gb18030", "big5"):
        try:
            decoded[encoding] = data.decode(encoding)
        except UnicodeDecodeError:
            continue
    if len(decoded) == 2:
        # Big5 bytes often decode as GB18030 too, into rare characters; prefer the decoding
        # whose characters are the common ones.
        best = max(decoded, key=lambda enc: _common_chinese_share(decoded[enc]))
        log.debug("%s: decoded as %s", path, best)
        return decoded[best]
    if decoded:
        return next(iter(decoded.values()))
    from charset_normalizer import from_bytes

    guess = from_bytes(data).best()
    if guess is not None and guess.encoding:
        log.warning("%s: not UTF-8/GB18030/Big5; decoded as %s", Path(path).name, guess.encoding)
        return str(guess)
    raise IngestError(
        path,
        "text encoding not recognised (tried UTF-8, UTF-16, GB18030/GBK, Big5)",
        "save the file as UTF-8 and re-index",
    )


# ---------------------------------------------------------------------------------------------
# loaders


def load_txt(path: Path) -> str:
    data = path.read_bytes()
    if _looks_binary(data):
        raise IngestError(path, "this looks like a binary file, not text",
                          "check the file; only real text files can be named .txt")
    return decode_text(data, path)


def load_pdf(path: Path) -> str:
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise IngestError(path, "the PDF is encrypted with a password",
                              "save an unprotected copy and re-index")
        deadline = time.monotonic() + LOAD_SECONDS
        pages = []
        for number, page in enumerate(reader.pages, 1):
            pages.append(page.extract_text() or "")
            if time.monotonic() > deadline:
                raise IngestError(path, f"reading it took over {LOAD_SECONDS} s (stopped at page {number})",
                                  "re-export it from the source application, or split it, and re-index")
    except IngestError:
        raise
    except LimitReachedError as err:  # pypdf's own bounds on decompression and stream size
        raise IngestError(path, f"the PDF expands beyond the reader's safety limits ({err})",
                          "re-export it from the source application, or split it, and re-index") from err
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as err:
        raise IngestError(path, f"the PDF is damaged or not a PDF ({type(err).__name__}: {err})",
                          "re-export it from the source application and re-index") from err
    except Exception as err:  # pypdf raises many kinds on corrupt input
        if "encrypt" in str(err).lower() or "crypt" in type(err).__name__.lower():
            raise IngestError(path, "the PDF is encrypted", "save an unprotected copy and re-index") from err
        raise IngestError(path, f"the PDF could not be read ({type(err).__name__}: {err})",
                          "re-export it from the source application and re-index") from err
    text = "\f".join(pages)
    if not text.strip():
        raise IngestError(path, "the PDF has no text layer (probably scanned images)",
                          "run OCR on it (e.g. ocrmypdf) and re-index")
    return text


# A .docx is a zip of XML: bounds on what it may expand to keep a small "bomb" (137 KB that
# inflates to 40 MB of XML) from taking minutes and hundreds of MB to parse.
DOCX_MAX_EXPANDED = 64 * 1024 * 1024  # bytes of all members together
DOCX_MAX_RATIO = 200  # expanded / compressed size of the main document part
DOCX_MAX_BLOCKS = 200_000  # paragraphs and table rows
LOAD_SECONDS = 60  # reading one .docx or .pdf: checked between paragraphs and pages
HTML_MAX_BYTES = 20_000_000
# the HTML parser is one call that cannot be stopped and builds an object per element: 15 MB of
# tiny elements took 56 s and 1.8 GB, so the elements are counted (cheaply) before parsing
HTML_MAX_ELEMENTS = 200_000
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _check_docx_size(path: Path) -> None:
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise IngestError(path, "the .docx file is damaged or not a Word document",
                          "re-save it from Word/WPS as .docx and re-index") from err
    expanded = sum(m.file_size for m in members)
    main = next((m for m in members if m.filename == "word/document.xml"), None)
    ratio = main.file_size / max(main.compress_size, 1) if main is not None else 0.0
    if expanded > DOCX_MAX_EXPANDED or (main is not None and main.file_size > 1024 * 1024 and ratio > DOCX_MAX_RATIO):
        raise IngestError(path, f"the .docx expands to {expanded / 1e6:.0f} MB of XML "
                          f"({ratio:.0f}× its compressed size), more than a report holds",
                          "re-save it from Word/WPS, or split it, and re-index")


def load_docx(path: Path) -> str:
    import docx
    from docx.text.paragraph import Paragraph

    _check_docx_size(path)
    try:
        document = docx.Document(str(path))
    except Exception as err:  # python-docx raises its own and zipfile's errors on bad input
        raise IngestError(path, "the .docx file is damaged or not a Word document",
                          "re-save it from Word/WPS as .docx and re-index") from err
    lines: list[str] = []
    blocks = 0
    deadline = time.monotonic() + LOAD_SECONDS
    body = document.element.body
    for block in body.iterchildren():
        blocks += 1
        if time.monotonic() > deadline:
            raise IngestError(path, f"reading it took over {LOAD_SECONDS} s",
                              "re-save it from Word/WPS, or split it, and re-index")
        tag = block.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = Paragraph(block, document)
            text = paragraph.text.strip()
            if not text:
                continue
            style = (paragraph.style.name or "") if paragraph.style is not None else ""
            level = _heading_level_from_style(style)
            lines.append(f"{'#' * level} {text}" if level else text)
        elif tag == "tbl":
            # each row's own cells, read from the XML: python-docx's `row.cells` resolves merged
            # cells (vMerge, gridSpan) and raises on, or expands without bound, malformed ones
            for row in block.iterchildren(_W + "tr"):
                blocks += 1
                cells = ["".join(t.text or "" for t in cell.iter(_W + "t")).strip()
                         for cell in row.iterchildren(_W + "tc")]
                lines.append("\t".join(dict.fromkeys(c for c in cells if c)))
        if blocks > DOCX_MAX_BLOCKS:
            raise IngestError(path, f"the .docx holds more than {DOCX_MAX_BLOCKS:,} paragraphs and table rows",
                              "split it into smaller files and re-index")
    return "\n\n".join(lines)



def _heading_level_from_style(style: str) -> int:
    if style == "Title":
        return 1
    match = re.match(r"(?:Heading|标题)\s*(\d)", style)
    return int(match.group(1)) if match else 0


_HTML_BLOCKS = ("p", "li", "td", "th", "blockquote", "pre", "dt", "dd", "figcaption", "caption")


def load_html(path: Path) -> str:
    from bs4 import BeautifulSoup

    if path.stat().st_size > HTML_MAX_BYTES:  # one parse call that cannot be stopped: bound its input
        raise IngestError(path, f"the HTML file is over {HTML_MAX_BYTES / 1e6:g} MB, more than a report page holds",
                          "save the report's text as .txt or .pdf and re-index")
    data = path.read_bytes()
    elements = len(re.findall(rb"<[A-Za-z]", data))
    if elements > HTML_MAX_ELEMENTS:
        raise IngestError(path, f"the HTML file holds {elements:,} elements, more than {HTML_MAX_ELEMENTS:,} "
                          "(a report page holds far fewer)",
                          "save the report's text as .txt or .pdf and re-index")
    declared = re.search(rb"<meta[^>]+charset=[\"']?([A-Za-z0-9_-]+)", data[:4096], re.I)
    text: str | None = None
    if declared:
        try:
            text = data.decode(declared.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            text = None
    if text is None:
        text = decode_text(data, path)
    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style", "noscript", "nav", "header", "footer", "aside", "form"]):
        tag.decompose()
    lines: list[str] = []
    for element in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6", *_HTML_BLOCKS]):
        if element.find_parent(_HTML_BLOCKS):
            continue  # nested block: its text is already in its parent's
        content = " ".join(element.get_text(" ", strip=True).split())
        if not content:
            continue
        if element.name and element.name[0] == "h" and element.name[1:].isdigit():
            lines.append(f"{'#' * int(element.name[1:])} {content}")
        else:
            lines.append(content)
    if not lines:  # a page without block tags: fall back to its visible text
        lines = [line for line in soup.get_text("\n").splitlines() if line.strip()]
    return "\n\n".join(lines)


LOADERS: dict[str, Callable[[Path], str]] = {
    ".txt": load_txt,
    ".md": load_txt,
    ".markdown": load_txt,
    ".pdf": load_pdf,
    ".docx": load_docx,
    ".html": load_html,
    ".htm": load_html,
}
SUPPORTED_SUFFIXES = tuple(LOADERS)


def load_raw_text(path: Path) -> str:
    """Read a file of any supported format into raw text, or raise IngestError."""
    suffix = path.suffix.lower()
    loader = LOADERS.get(suffix)
    if loader is None:
        raise IngestError(path, f"unsupported format '{suffix or '(no extension)'}'",
                          f"convert it to one of {' '.join(SUPPORTED_SUFFIXES)}")
    if path.stat().st_size == 0:
        raise IngestError(path, "the file is empty", "remove it or replace it with the real report")
    try:
        text = loader(path)
    except IngestError:
        raise
    except OSError as err:
        raise IngestError(path, f"could not be read ({err.strerror})", "check its permissions") from err
    except Exception as err:  # a parser's own failure on malformed input: this file only, never the build
        log.debug("loader failed on %s", path, exc_info=True)
        raise IngestError(path, f"could not be read ({type(err).__name__}: {str(err)[:200]})",
                          "re-save it from the source application and re-index") from err
    if not text.strip():
        raise IngestError(path, "the file contains no text", "remove it or replace it with the real report")
    return text
