"""Removing the extraction noise that report files carry, and nothing else.

Each pass handles one kind of noise seen in the corpus: inline markup left by converters,
download-site notices, tables of contents, page numbers and running heads, chart and figure
leftovers, lines broken in the middle of a sentence and stray spaces between Chinese
characters. The output is a list of blocks (paragraphs and headings) in reading order; the
characters of the text are otherwise kept as they were (no width or script conversion).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from assistant.ingest import structure
from assistant.language import CJK_CHARS, CJK_PUNCT, cjk_count

CLEANER_VERSION = "5"


@dataclass(frozen=True)
class Block:
    text: str
    level: int | None = None  # heading level, None for a paragraph
    byline: str = ""  # authors the table of contents gives for this heading


# --- characters and inline markup -------------------------------------------------------------

_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_GARBAGE_CHARS = re.compile("[\ufffd\U0001f6ee\ue000-\uf8ff]")
_SUPERSCRIPT_REF = re.compile("[\u2070\u00b9\u00b2\u00b3\u2074-\u2079]+")
_SUPERSCRIPT_YEAR = re.compile("[\u2070\u00b9\u00b2\u00b3\u2074-\u2079]{4}(?=\\s*年)")
_PLAIN_DIGITS = str.maketrans("\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079", "0123456789")
_HTML_INLINE = re.compile(r"</?(?:mark|u|b|i|em|strong|sup|sub|span)(?:\s[^>]*)?>", re.I)
_MD_LINK = re.compile(r"\[([^\]\n]+)\]\((?:#|[^)\s]+)\)")
_MD_EMPHASIS = re.compile(r"\*\*(.+?)\*\*")
_LATEX_SUP = re.compile(r"\^\{([^}]*)\}")


def normalise_characters(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00a0", " ").replace("\u2028", "\n").replace("\u2029", "\n")
    text = _INVISIBLE.sub("", text)
    return _GARBAGE_CHARS.sub("", text)


def strip_inline_markup(line: str) -> str:
    line = _HTML_INLINE.sub("", line)
    line = _MD_LINK.sub(r"\1", line)
    line = _MD_EMPHASIS.sub(r"\1", line)
    line = line.replace("**", "")
    line = _LATEX_SUP.sub(r"\1", line)
    # superscript digits are footnote marks, except a year a PDF set raised ("²⁰²⁴年2月")
    line = _SUPERSCRIPT_YEAR.sub(lambda m: m.group().translate(_PLAIN_DIGITS), line)
    return _SUPERSCRIPT_REF.sub("", line)


# --- whole-line noise ---------------------------------------------------------------------------

_DOWNLOAD_NOTICE = re.compile(
    r"试下载部分|如要下载或阅读全文|下载或阅读全文|本文档的试读|book118\.com|docin\.com|doc88\.com|"
    r"wenku\.baidu|原创力文档|免费下载|Download the full"
)
_PAGE_NUMBER = re.compile(
    r"^(?:[-–—]\s*)?(?:\d{1,4}|[ivxlcdm]{1,6}|[IVXLCDM]{1,6})(?:\s*[-–—])?$|"
    r"^第\s*\d+\s*页(?:\s*[/，,共]\s*\d+\s*页?)?$|^Page\s+\d+(?:\s+of\s+\d+)?$",
)
_TOC_ENTRY = re.compile(
    r"^(?:\d{1,3}\t.*|.+?(?:\t+|\s{2,}|[.·…_]{3,}\s*)(?:\d{1,3}|[IVXLCivxlc]{1,5})\s*)$"
)
_TOC_SHORT_ENTRY = re.compile(rf"^[^。！？；]{{2,40}}?[{CJK_CHARS})）]\s*(?:\d{{1,3}}|[IVX]{{1,5}})$")
_TABLE_RULE = re.compile(r"^[-=|:+\s]{3,}$")
_FIGURE_CAPTION = re.compile(
    r"^(?:图\s*[(（]?[\da-zA-Z一二三四五六七八九十]+[)）]?\s*[:：.．]|图\s*[“\"].{1,40}[”\"].{0,10}图$|"
    r"(?:Figure|Fig\.)\s*\d+[:.])"
)
_SOURCE_NOTE = re.compile(r"^(?:信息来源|资料来源|数据来源|Sources?)\s*[:：.．]", re.I)
_CHART_NOTE = re.compile(r"^注\s*[:：]")


def is_page_number(line: str) -> bool:
    return bool(_PAGE_NUMBER.match(line.strip()))


def _is_toc_entry(line: str) -> bool:
    line = line.strip()
    return bool(
        _TOC_ENTRY.match(line) or _TOC_SHORT_ENTRY.match(line) or _TABLE_RULE.match(line)
        or ("\t" in line and len(line) < 80)
    )


_PAGE_TOKEN = re.compile(r"^(?:\d{1,3}|[IVXLCivxlc]{1,6})$")
_LEADER = re.compile(r"\t+|\s{2,}|\s*[.·…_]{3,}\s*")
# a person's name: 2–4 Chinese characters, or a transliteration with the original in brackets
# ("罗斯塔姆·J·诺伊维尔特(Rostam J. Neuwirth)"); the last of a list may be cut off by extraction
_LATIN_NAME = r"[A-Za-z\u00c0-\u024f .'’\-]"
_PERSON = re.compile(rf"^(?:[{CJK_CHARS}]{{2,4}}|[{CJK_CHARS}A-Z·・.\-－\s]{{2,30}}[(（]{_LATIN_NAME}+[)）])$")
_PERSON_CUT = re.compile(rf"^[{CJK_CHARS}A-Z·・.\-－\s]{{2,30}}(?:[(（]{_LATIN_NAME}*)?$")


@dataclass
class ContentsEntry:
    title: str
    page: str | None
    authors: list[str]


def _parse_entry(line: str) -> tuple[str, str | None]:
    """"标题\t12", "标题 ...... 12", "01\t引言\t01" → (title, page)."""
    parts = [p.strip() for p in _LEADER.split(line.strip()) if p.strip() and not _TABLE_RULE.match(p.strip())]
    page = parts.pop() if len(parts) >= 2 and _PAGE_TOKEN.match(parts[-1]) else None
    if page is None and parts:
        glued = re.fullmatch(rf"(.*[{CJK_CHARS})）])(\d{{1,3}})", parts[-1])  # "(七)数据安全和隐私保护9"
        if glued:
            parts[-1], page = glued.group(1), glued.group(2)
    if len(parts) >= 2 and re.fullmatch(r"\d{1,3}", parts[0]):
        parts = parts[1:]  # the entry's own number ("01  引言  01")
    return " ".join(parts), page


_ORGANISATION = re.compile(r"(?:工作组|委员会|协会|学会|研究院|研究所|研究中心|实验室|大学|学院|Group|Committee|"
                           r"Institute|Council|Association|Laborator(?:y|ies)|Lab|University)$", re.I)


def _is_byline(title: str) -> bool:
    if len(title) <= 40 and _ORGANISATION.search(title) and not structure.is_terminated(title):
        return True  # written by an organisation
    names = [n.strip() for n in re.split(r"[,，、;；]", title) if n.strip()]
    return bool(names) and all(_PERSON.match(n) or (i == len(names) - 1 and len(names) > 1 and _PERSON_CUT.match(n))
                               for i, n in enumerate(names))


def contents_entries(lines: list[str]) -> list[ContentsEntry]:
    """The entries of a table of contents, a byline (names on the same page as the title above
    them) joined to its title."""
    entries: list[ContentsEntry] = []
    for line in lines:
        title, page = _parse_entry(line)
        if not title:
            continue
        if entries and page is not None and page == entries[-1].page and _is_byline(title):
            entries[-1].authors.append(title)
        else:
            entries.append(ContentsEntry(title, page, []))
    return entries


def _key(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).lower()


def restructure_toc(lines: list[str]) -> tuple[list[str], dict[str, str]]:
    """Tables of contents become structure rather than noise. The block after a 目录/Contents
    title is read as entries; an entry whose title the body also holds is dropped, since the
    body carries it; what the body lacks — articles whose text the file does not hold,
    and who wrote each article (a byline under its title) — stays, one "- title（authors）" line
    per entry under the contents title. Runs of 3+ `title … page` lines elsewhere (a PDF
    contents page without a title) are dropped. Also returns the bylines of entries the body has,
    by the title's match key, to be attached to those headings."""
    keep = [True] * len(lines)
    replacement: dict[int, list[str]] = {}
    bylines: dict[str, str] = {}
    units = [(i, line.strip()) for i, line in enumerate(lines) if line.strip()]
    u = 0
    while u < len(units):
        i, text = units[u]
        if structure.is_contents_title(text):
            keep[i] = False
            block: list[str] = []
            v = u + 1
            while v < len(units):
                text_v = units[v][1]
                lookahead = [t for _, t in units[v + 1 : v + 4]]
                orphan = (len(text_v) <= 30 and not structure.is_terminated(text_v)
                          and any(_is_toc_entry(t) for t in lookahead))
                if not (_is_toc_entry(text_v) or orphan):
                    break
                keep[units[v][0]] = False
                block.append(units[v][1])
                v += 1
            block_rows = {units[w][0] for w in range(u, v)}
            body = _key("".join(line for row, line in enumerate(lines) if row not in block_rows))
            entries = contents_entries(block)
            kept = [e for e in entries if e.authors or _key(e.title) not in body]
            title = re.sub(r"\s+", "", text)
            joiner = ", " if title.lower().endswith("contents") else "，"
            bylines.update((_key(e.title), joiner.join(e.authors)) for e in entries
                           if e.authors and _key(e.title) in body)
            if kept:
                replacement[i] = [f"# {text}", *(
                    f"- {e.title}（{joiner.join(e.authors)}）" if e.authors else f"- {e.title}" for e in kept)]
            u = v
            continue
        u += 1
    # runs of TOC-looking lines outside a titled block (e.g. a PDF contents page)
    run: list[int] = []
    for i, text in [*units, (-1, "")]:
        if i >= 0 and keep[i] and (_TOC_ENTRY.match(text) and not structure.is_terminated(text)):
            run.append(i)
            continue
        if len(run) >= 3:
            for j in run:
                keep[j] = False
        run = []
    out: list[str] = []
    for i, (line, k) in enumerate(zip(lines, keep, strict=True)):
        out.extend(replacement.get(i, [line] if k else []))
    return out, bylines


_AXIS_NUMBERS = re.compile(r"(?:(?<=\s)|^)(?:\d{1,3}\s+){5,}\d{1,3}(?=\s|$)")


def strip_axis_numbers(line: str) -> str:
    """Drop runs of bare numbers left by chart axes ("10 10 10 10 10 10")."""
    return _AXIS_NUMBERS.sub("", line)


def is_chart_leftover(line: str) -> bool:
    text = line.strip()
    if not text:
        return False
    if _FIGURE_CAPTION.match(text) or _SOURCE_NOTE.match(text) or _CHART_NOTE.match(text):
        return True
    if not re.search(rf"[{CJK_CHARS}A-Za-z0-9]", text):
        return True  # only symbols
    digits = sum(ch.isdigit() or ch in " .,%()-" for ch in text)
    return len(text) >= 12 and digits / len(text) >= 0.6 and cjk_count(text) <= 4


def strip_page_furniture(pages: list[str]) -> list[str]:
    """Drop running heads/feet: first and last lines repeated on many pages (digits ignored)."""

    def key(line: str) -> str:
        return re.sub(r"\d+", "#", re.sub(r"\s+", "", line))

    edges: Counter[str] = Counter()
    split_pages = [[ln for ln in page.split("\n")] for page in pages]
    for lines in split_pages:
        nonempty = [ln for ln in lines if ln.strip()]
        for line in set(nonempty[:1] + nonempty[-2:]):
            if len(line.strip()) <= 40:  # running heads and feet are short
                edges[key(line)] += 1
    threshold = max(3, int(len(pages) * 0.3))
    furniture = {k for k, n in edges.items() if n >= threshold and k}
    out = []
    for lines in split_pages:
        nonempty_idx = [i for i, ln in enumerate(lines) if ln.strip()]
        edge_idx = set(nonempty_idx[:1] + nonempty_idx[-2:])
        out.append("\n".join(ln for i, ln in enumerate(lines)
                             if not (i in edge_idx and key(ln) in furniture)))
    return out


# --- paragraphs -------------------------------------------------------------------------------

_CJK_SPACE = re.compile(rf"(?<=[{CJK_CHARS}{CJK_PUNCT}])[ \t\u3000]+(?=[{CJK_CHARS}{CJK_PUNCT}])")
_PARAGRAPH_NUMBER = re.compile(
    r"^(?:#{1,6}\s+)?(?:-\s+)?(?:第[一二三四五六七八九十百零〇\d]+[章节篇部编]|[一二三四五六七八九十百零〇]{1,4}|\d{1,3})"
    r"\s+(?=\S)")
_CONTINUATION_END = tuple("，,、的和与及或在对将把被从向为以及之其—-(（《“")


def fix_cjk_spacing(line: str) -> str:
    """Remove spaces left between Chinese characters by line-joining in PDF conversion,
    keeping the space after a leading paragraph number ("- 三十 算力是…")."""
    prefix_match = _PARAGRAPH_NUMBER.match(line)
    prefix = prefix_match.group(0) if prefix_match else ""
    return prefix + _CJK_SPACE.sub("", line[len(prefix):])


def _ends_cjk(text: str) -> bool:
    return bool(text) and bool(re.match(rf"[{CJK_CHARS}{CJK_PUNCT}]", text[-1]))


def _starts_latin(text: str) -> bool:
    return bool(re.match(r"[A-Za-z]", text))


def _is_broken_after(prev: str, full_line: int) -> bool:
    """Does `prev` stop in the middle of a sentence?"""
    if structure.is_terminated(prev) or structure.markdown_heading(prev) or structure.is_chapter_heading(prev) \
            or structure.is_table_row(prev):
        return False  # a table row ends at its line
    if prev.endswith(_CONTINUATION_END):
        return True
    if re.search(r"[a-z,;]$", prev):
        return True
    if (re.search("[，,、；]", prev) and len(prev) >= 20) or len(prev) >= 40:
        return True
    return full_line > 0 and len(prev) >= full_line


def _continues(prev: str, nxt: str) -> bool:
    if structure.starts_block(nxt):
        return False
    if _ends_cjk(prev) and _starts_latin(nxt) and cjk_count(nxt) < len(nxt) * 0.2:
        return False  # a Chinese line followed by an English one: title and its translation
    if re.search(r"[A-Za-z,;]$", prev) and re.match(r"[a-z(]", nxt):
        return True
    if re.search(r"[A-Za-z]$", prev) and cjk_count(prev) < 10:
        return False  # an English line (a URL, a reference) does not run on into Chinese
    return len(nxt) >= 20 or structure.is_terminated(nxt)


def _join(prev: str, nxt: str) -> str:
    if re.search(r"[A-Za-z]-$", prev) and re.match(r"[a-z]", nxt):
        return prev[:-1] + nxt  # hyphenated word
    if _ends_cjk(prev) or re.match(rf"[{CJK_CHARS}{CJK_PUNCT}]", nxt):
        return prev + nxt
    return prev + " " + nxt


def drop_running_heads(units: list[str]) -> list[str]:
    """Drop a short line that interrupts a sentence and also appears elsewhere in the document
    (a page's running head, e.g. "序言" between "甚至出现" and "了一定程度上的社会焦虑")."""
    counts = Counter(units)
    out: list[str] = []
    for i, unit in enumerate(units):
        prev = out[-1] if out else ""
        nxt = units[i + 1] if i + 1 < len(units) else ""
        if (counts[unit] >= 2 and len(unit) <= 25 and not structure.is_terminated(unit)
                and prev and nxt and _is_broken_after(prev, 0) and _continues(prev, nxt)):
            continue
        out.append(unit)
    return out


_LEADING_CONTINUATION = tuple("，,。、；;：:！？!?）)」』”》")


def join_broken_lines(units: list[str], full_line: int) -> list[str]:
    out: list[str] = []
    for unit in units:
        if out and not structure.markdown_heading(out[-1]) and unit.startswith(_LEADING_CONTINUATION):
            out[-1] = _join(out[-1], unit)  # a line cannot start with a comma or a closing mark
        elif out and _is_broken_after(out[-1], full_line) and _continues(out[-1], unit):
            out[-1] = _join(out[-1], unit)
        else:
            out.append(unit)
    return out


def _repeat_key(line: str) -> str:
    return re.sub(r"[\W_]+", "", line)[:50]


def drop_repeated_lines(units: list[str]) -> list[str]:
    """Keep only the first of a line of 30+ characters that repeats 3+ times (chart footnotes),
    comparing the start of the line without spaces and punctuation."""
    counts = Counter(_repeat_key(u) for u in units if len(u) >= 30)
    seen: set[str] = set()
    out = []
    for unit in units:
        key = _repeat_key(unit)
        if len(unit) >= 30 and counts[key] >= 3:
            if key in seen:
                continue
            seen.add(key)
        out.append(unit)
    return out


def _typical_full_line(units: list[str]) -> int:
    """For text extracted line by line (PDF), the length of a full line; 0 otherwise."""
    lengths = sorted(len(u) for u in units if not structure.starts_block(u))
    if len(lengths) < 20 or lengths[len(lengths) // 2] >= 60:
        return 0
    return int(lengths[int(len(lengths) * 0.9)] * 0.8)


# --- the whole cleaning ------------------------------------------------------------------------


def clean(raw: str) -> list[Block]:
    """Raw text from a loader → cleaned blocks (headings carry their Markdown level)."""
    text = normalise_characters(raw)
    pages = text.split("\f")
    if len(pages) >= 3:
        pages = strip_page_furniture(pages)
    lines = [strip_axis_numbers(strip_inline_markup(line)).strip()
             for line in "\n".join(pages).split("\n")]
    lines = [line for line in lines if not _DOWNLOAD_NOTICE.search(line)]
    lines, bylines = restructure_toc(lines)
    lines = [line for line in lines if not is_page_number(line) and not is_chart_leftover(line)]
    # table cells keep a visible separator; other runs of spaces collapse
    units = [re.sub(r" +", " ", re.sub(r"\s*\t[\t ]*", " | ", line)) for line in lines if line]
    units = drop_running_heads(units)
    units = join_broken_lines(units, _typical_full_line(units))
    units = [fix_cjk_spacing(unit) for unit in units]
    units = drop_repeated_lines(units)
    blocks = []
    for unit in units:
        heading = structure.markdown_heading(unit)
        text, level = (heading[1], heading[0]) if heading else (unit, None)
        byline = bylines.get(_key(text), "") if len(text) <= 80 else ""
        blocks.append(Block(text, level, byline))
    return blocks
