"""Writing a file so that readers see the old file or the new one, never half of either.

Everything the assistant writes to disk (index files, the live-version pointer, API keys,
uploaded reports, evaluation reports) goes through here: the bytes go to a hidden temporary
file beside the target, then `os.replace` swaps it in, which is atomic on POSIX and Windows.
A failure before the swap removes the temporary file and leaves the target untouched. The
temporary names start with "." and end with ".tmp", which the corpus walker skips."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def replacing(path: Path, *, durable: bool = False, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path` for the caller to write; when the block ends
    without an error, the temporary file replaces `path`.

    `durable` flushes the file to disk before the swap (for files a crash must not lose);
    `mode` sets its permissions before it becomes visible under its real name."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        if mode is not None:
            os.chmod(tmp, mode)
        if durable:
            with tmp.open("rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes | str, *, durable: bool = False, mode: int | None = None) -> None:
    """Replace `path` with `data` (str is written as UTF-8) in one step."""
    with replacing(path, durable=durable, mode=mode) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
