"""Recognising headings in report text: numbered chapters and sections, Markdown `#` headings,
and short title lines standing before a paragraph."""

from __future__ import annotations

import re

TERMINAL_PUNCT = "。！？!?；;…：:」』”\"'’）)】]》.．"

_ZH_NUM = "一二三四五六七八九十百零〇"
_CHAPTER = re.compile(rf"^第[{_ZH_NUM}\d]+[章篇部编](?:\s|$|[、:：，,])")
_LEVEL_PATTERNS: list[tuple[int, re.Pattern[str]]] = [
    (1, _CHAPTER),
    (1, re.compile(rf"^[{_ZH_NUM}]+、\S")),
    (1, re.compile(r"^\d{1,2}[.．]\s+[^\d\s.．][^。；;]{0,28}$")),
    (1, re.compile(r"^附件\s*[A-Z]?\s*[:：]?")),
    (1, re.compile(r"^(?:执行摘要|前言|序言|引言|导言|介绍|编者的话|结论|附录|致谢|免责声明|联系方式|"
                   r"贡献情况|起草机构|支持机构|Executive Summary|Introduction|Conclusions?|"
                   r"Appendix|Annex|Acknowledg(?:e)?ments|References)\s*[:：]?$", re.I)),
    (1, re.compile(r"^(?:Chapter|Part|Section)\s+[\dIVX]+\b", re.I)),
    (2, re.compile(rf"^[(（][{_ZH_NUM}\d]+[)）]")),
    (2, re.compile(r"^[A-H][.．]\s*\S")),
    (2, re.compile(r"^建议\s*\d+\s*[:：]?")),
    (2, re.compile(r"^方框\s*\d+")),
    (2, re.compile(r"^\d{1,2}\.\d{1,2}\.?\s+\S")),
    (3, re.compile(r"^\d{1,2}[.．、]\s*\S{2,24}$")),
    (3, re.compile(rf"^第[{_ZH_NUM}]+[，,]")),
]
CONTENTS_TITLE = re.compile(r"^(?:目录|contents|tableofcontents)$", re.I)


def is_contents_title(line: str) -> bool:
    """"目 录", "Contents", "Table of Contents"."""
    return bool(CONTENTS_TITLE.match(re.sub(r"\s+", "", line)))


_MARKDOWN_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*$")
GENERIC_LEVEL = 4


def markdown_heading(line: str) -> tuple[int, str] | None:
    """`## Title` → (2, "Title")."""
    match = _MARKDOWN_HEADING.match(line)
    return (len(match.group(1)), match.group(2)) if match else None


def numbered_heading_level(line: str) -> int | None:
    """The level of a numbered or conventional heading line, if it is one."""
    if len(line) > 60 or line.endswith(("。", "；", ";")):
        return None
    for level, pattern in _LEVEL_PATTERNS:
        if pattern.match(line):
            return level
    return None


def is_chapter_heading(line: str) -> bool:
    """"第三章，人工智能治理助力发展中国家与全球可持续发展": a line of its own, whatever its length."""
    return bool(_CHAPTER.match(line)) and numbered_heading_level(line) is not None


def is_list_item(line: str) -> bool:
    """Bullets, lettered and roman items, and numbered paragraphs start a new block."""
    return bool(re.match(r"^(?:[-•·●▪*]\s|[a-z][).．]\s|[ivx]{1,4}[).．]\s|[(（][a-z\divx]+[)）])", line))


TABLE_CELL_SEPARATOR = " | "  # what the loaders put between a table row's cells


def is_table_row(line: str) -> bool:
    """A row of a table (cells joined by " | ")."""
    return TABLE_CELL_SEPARATOR in line


def starts_block(line: str) -> bool:
    """True if the line cannot be the continuation of the line before it."""
    return bool(markdown_heading(line) or numbered_heading_level(line) or is_list_item(line) or is_table_row(line))


def is_terminated(line: str) -> bool:
    return line.rstrip().endswith(tuple(TERMINAL_PUNCT))


def is_title_line(line: str, next_line: str | None) -> bool:
    """A short unpunctuated line followed by a paragraph reads as a heading."""
    if len(line) > 30 or is_terminated(line) or line.endswith((",", "，", "、")) or is_table_row(line):
        return False
    if next_line is None:
        return False
    return len(next_line) >= 40 or is_terminated(next_line)
