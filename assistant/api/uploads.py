"""Checking an uploaded report before it touches the corpus folder: a safe file name, an
allowed size, and a type decided by the file's content, not by its name."""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from pathlib import PurePosixPath, PureWindowsPath

from assistant.api.errors import ApiError

_SAFE_NAME = re.compile(r"[^\w.\-]+")  # \w keeps letters of every script, Chinese too


def safe_name(raw: str) -> str:
    """A plain file name: no folders (either kind of slash), no dot files, no control characters."""
    name = unicodedata.normalize("NFKC", raw or "").strip()
    if not name or "\x00" in name:
        raise ApiError(422, "invalid_filename", "the upload needs a file name")
    parts = [p for p in (*PurePosixPath(name).parts, *PureWindowsPath(name).parts) if p not in ("/", "\\")]
    if any(p == ".." for p in parts) or PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() \
            or "/" in name or "\\" in name:
        raise ApiError(422, "invalid_filename",
                       f"'{raw}' is not a plain file name (folders and '..' are not allowed): send just the name")
    cleaned = _SAFE_NAME.sub("_", name).strip("._")
    if not cleaned or cleaned.startswith("."):
        raise ApiError(422, "invalid_filename", f"'{raw}' is not a usable file name")
    return cleaned[:120]


def sniff(data: bytes) -> str:
    """The suffix the content really has: .pdf, .docx, .html, .md/.txt — or raise 415."""
    head = data[:2048]
    if head.startswith(b"%PDF-"):
        return ".pdf"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if "word/document.xml" in archive.namelist():
                    return ".docx"
        except zipfile.BadZipFile:
            pass
        raise ApiError(415, "unsupported_type", "the file is a zip archive but not a Word .docx document")
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ApiError(415, "unsupported_type",
                       "the file is binary, not a report: send .txt, .md, .pdf, .docx or .html")
    lowered = head.lower().lstrip()
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<body" in lowered:
        return ".html"
    return ".txt"


_ACCEPTED = {".txt": (".txt", ".md", ".markdown"), ".html": (".html", ".htm"), ".pdf": (".pdf",),
             ".docx": (".docx",)}


def checked_upload(raw_name: str, data: bytes, max_bytes: int) -> str:
    """The name to store the upload under; its suffix follows the content, not the sender."""
    if not data:
        raise ApiError(422, "empty_file", "the uploaded file is empty")
    if len(data) > max_bytes:
        raise ApiError(413, "payload_too_large",
                       f"the file is {len(data)} bytes; uploads are limited to {max_bytes} bytes")
    name = safe_name(raw_name)
    kind = sniff(data)
    path = PurePosixPath(name)
    return name if path.suffix.lower() in _ACCEPTED[kind] else f"{path.stem}{kind}"
