"""How far a build is: a progress bar on a terminal, periodic log lines elsewhere.

On a terminal: a tqdm bar over files (files/s, ETA, chunks so far). When the output is not a
terminal (a log file, CI, a service) bars would fill it with carriage returns, so a line like
``indexed 1,200 of 5,000 files: 41.3 files/s, 3,912 chunks, ETA 1 min 32 s`` is logged every
`LOG_EVERY_SECONDS` instead.
"""

from __future__ import annotations

import logging
import sys
import time
from types import TracebackType
from typing import TextIO

from tqdm import tqdm

log = logging.getLogger(__name__)

LOG_EVERY_SECONDS = 10.0


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class BuildProgress:
    """Counts files as they finish. `done` files (resumed from an interrupted build) count
    towards the total but not towards the rate."""

    def __init__(self, total: int, *, done: int = 0, chunks: int = 0, enabled: bool = True,
                 stream: TextIO | None = None) -> None:
        self.total = total
        self.done = done
        self.chunks = chunks
        self._started_done = done
        self._stream = stream if stream is not None else sys.stderr
        self.is_bar = enabled and self._stream.isatty()
        self._log_lines = enabled and not self.is_bar
        self._started = time.perf_counter()
        self._last_log = self._started
        self._bar: tqdm[None] | None = None
        if self.is_bar:
            self._bar = tqdm(total=total, initial=done, desc="indexing", unit="file", file=self._stream,
                             dynamic_ncols=True, smoothing=0.1)
            self._bar.set_postfix(chunks=chunks, refresh=False)

    def files_done(self, files: int = 1, chunks: int = 0) -> None:
        """More files finished (indexed, copied unchanged, or skipped), with their chunks."""
        self.done += files
        self.chunks += chunks
        if self._bar is not None:
            self._bar.set_postfix(chunks=self.chunks, refresh=False)
            self._bar.update(files)
        elif self._log_lines and time.perf_counter() - self._last_log >= LOG_EVERY_SECONDS:
            self._last_log = time.perf_counter()
            log.info("%s", self.line())

    def rate(self) -> float:
        """Files per second in this run."""
        elapsed = time.perf_counter() - self._started
        return (self.done - self._started_done) / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        rate = self.rate()
        left = self.total - self.done
        eta = format_duration(left / rate) if rate > 0 else "unknown"
        return (f"indexed {self.done:,} of {self.total:,} files: {rate:.{1 if rate >= 1 else 2}f} files/s, "
                f"{self.chunks:,} chunks, ETA {eta}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> BuildProgress:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()
