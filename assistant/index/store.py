"""The chunk store: documents, chunks, their search tokens and vectors, in one SQLite file.

Chunk rows are numbered 0..n-1 in document order; that number is the chunk's id in the
FAISS and BM25 indexes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from assistant.types import Chunk, Document, DocumentInfo, Heading

_SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY, source TEXT NOT NULL, sha256 TEXT NOT NULL, lang TEXT NOT NULL,
    info TEXT NOT NULL, text TEXT NOT NULL, headings TEXT NOT NULL, n_chunks INTEGER NOT NULL,
    pairs TEXT NOT NULL
);
CREATE TABLE chunks (
    row INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE NOT NULL, doc_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL, section TEXT NOT NULL, lang TEXT NOT NULL,
    char_start INTEGER NOT NULL, char_end INTEGER NOT NULL, text TEXT NOT NULL,
    tokens TEXT NOT NULL, vector BLOB NOT NULL, kind TEXT NOT NULL, sentences BLOB NOT NULL
);
CREATE INDEX chunks_by_doc ON chunks (doc_id, ordinal);
"""


@dataclass(frozen=True)
class StoredChunk:
    row: int
    chunk: Chunk
    tokens: tuple[str, ...]
    vector: np.ndarray
    sentence_vectors: np.ndarray  # (n_sentences, dim); empty when not computed


@dataclass(frozen=True)
class ChunkRecord:
    """What the builder stores for one chunk besides the chunk itself."""

    chunk: Chunk
    tokens: Sequence[str]
    vector: np.ndarray
    sentence_vectors: np.ndarray


def _info_from_json(data: str) -> DocumentInfo:
    raw = json.loads(data)
    raw["publishers"] = tuple(raw.get("publishers", ()))
    raw["aliases"] = tuple(raw.get("aliases", ()))
    return DocumentInfo(**raw)


class ChunkStore:
    """Read and write access to `chunks.sqlite`. Reads are safe from many threads."""

    def __init__(self, path: Path, *, create: bool = False, writable: bool = False) -> None:
        """Open for reading; `create` starts an empty store, `writable` appends to an existing one."""
        self.path = path
        if create:
            path.unlink(missing_ok=True)
        elif not path.is_file():
            raise FileNotFoundError(path)
        self._local = threading.local()
        self._writable = create or writable
        if create:
            self._db().executescript(_SCHEMA)

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            if self._writable:
                db = sqlite3.connect(str(self.path))
            else:
                db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self._local.db = db
        return db

    # --- writing ------------------------------------------------------------------------------

    def add_document(self, document: Document, records: Sequence[ChunkRecord],
                     pairs: Sequence[tuple[Sequence[str], Sequence[str]]], first_row: int) -> int:
        """Store a document, its term pairs and its chunks at rows first_row…; returns the next row."""
        db = self._db()
        headings = json.dumps([asdict(h) for h in document.headings], ensure_ascii=False)
        db.execute(
            "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (document.doc_id, document.source, document.sha256, document.lang,
             json.dumps(asdict(document.info), ensure_ascii=False), document.text, headings,
             len(records), json.dumps([[list(en), list(zh)] for en, zh in pairs], ensure_ascii=False)),
        )
        db.executemany(
            "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (first_row + i, r.chunk.chunk_id, r.chunk.doc_id, r.chunk.ordinal, r.chunk.section,
                 r.chunk.lang, r.chunk.char_start, r.chunk.char_end, r.chunk.text, " ".join(r.tokens),
                 np.asarray(r.vector, dtype=np.float32).tobytes(), r.chunk.kind,
                 np.asarray(r.sentence_vectors, dtype=np.float32).tobytes())
                for i, r in enumerate(records)
            ],
        )
        return first_row + len(records)

    def delete_document(self, doc_id: str) -> None:
        """Remove a document and its chunks (their rows are left free; see `compact_rows`)."""
        db = self._db()
        db.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))
        db.execute("DELETE FROM documents WHERE doc_id=?", (doc_id,))

    def next_row(self) -> int:
        """The row after the last chunk stored."""
        return int(self._db().execute("SELECT COALESCE(MAX(row) + 1, 0) FROM chunks").fetchone()[0])

    def compact_rows(self) -> bool:
        """Renumber chunk rows to 0..n-1 in their present order if deletions left gaps; True if it did."""
        db = self._db()
        if self.next_row() == self.count():
            return False
        db.executescript(
            """
            CREATE TEMP TABLE renumbered AS
                SELECT row AS old, ROW_NUMBER() OVER (ORDER BY row) - 1 AS new FROM chunks;
            CREATE UNIQUE INDEX temp.renumbered_old ON renumbered (old);
            -- through negative rows, so that no row number is ever held twice
            UPDATE chunks SET row = -1 - (SELECT new FROM renumbered WHERE old = chunks.row);
            UPDATE chunks SET row = -1 - row;
            DROP TABLE temp.renumbered;
            """
        )
        return True

    def connection(self) -> sqlite3.Connection:
        """The writing connection, so that a caller's own rows commit with the chunks they describe."""
        if not self._writable:
            raise ValueError(f"{self.path} is open for reading only")
        return self._db()

    def commit(self) -> None:
        self._db().commit()

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # --- reading ------------------------------------------------------------------------------

    def count(self) -> int:
        return int(self._db().execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def documents(self) -> list[tuple[DocumentInfo, str, str, int]]:
        """(info, source, sha256, n_chunks) of every document, in id order."""
        rows = self._db().execute(
            "SELECT info, source, sha256, n_chunks FROM documents ORDER BY doc_id").fetchall()
        return [(_info_from_json(info), source, sha, n) for info, source, sha, n in rows]

    def document(self, doc_id: str) -> Document | None:
        row = self._db().execute(
            "SELECT info, source, sha256, lang, text, headings FROM documents WHERE doc_id=?",
            (doc_id,)).fetchone()
        if row is None:
            return None
        info, source, sha, lang, text, headings = row
        return Document(info=_info_from_json(info), source=source, sha256=sha, text=text,
                        lang=lang, headings=tuple(Heading(**h) for h in json.loads(headings)))

    def _chunk_rows(self, sql: str, args: Iterable[object]) -> Iterator[StoredChunk]:
        for (row, chunk_id, doc_id, ordinal, section, lang, start, end, text, tokens,
             vector, kind, sentences) in self._db().execute(sql, tuple(args)):
            vector = np.frombuffer(vector, dtype=np.float32)
            yield StoredChunk(
                row=row,
                chunk=Chunk(chunk_id=chunk_id, doc_id=doc_id, ordinal=ordinal, text=text,
                            char_start=start, char_end=end, section=section, lang=lang, kind=kind),
                tokens=tuple(tokens.split()) if tokens else (),
                vector=vector,
                sentence_vectors=np.frombuffer(sentences, dtype=np.float32).reshape(-1, vector.size),
            )

    def document_pairs(self) -> list[tuple[list[str], list[str]]]:
        """The English/Chinese term pairs found in every document."""
        pairs: list[tuple[list[str], list[str]]] = []
        for (data,) in self._db().execute("SELECT pairs FROM documents ORDER BY doc_id"):
            pairs.extend((en, zh) for en, zh in json.loads(data))
        return pairs

    def pairs_of(self, doc_id: str) -> list[tuple[list[str], list[str]]]:
        row = self._db().execute("SELECT pairs FROM documents WHERE doc_id=?", (doc_id,)).fetchone()
        return [(en, zh) for en, zh in json.loads(row[0])] if row else []

    def chunk_by_ordinal(self, doc_id: str, ordinal: int) -> StoredChunk | None:
        found = list(self._chunk_rows("SELECT * FROM chunks WHERE doc_id=? AND ordinal=?", [doc_id, ordinal]))
        return found[0] if found else None

    def headings_of(self, doc_id: str) -> tuple[Heading, ...]:
        row = self._db().execute("SELECT headings FROM documents WHERE doc_id=?", (doc_id,)).fetchone()
        return tuple(Heading(**h) for h in json.loads(row[0])) if row else ()

    def chunk_containing(self, doc_id: str, offset: int) -> StoredChunk | None:
        """The chunk in which the text at `offset` comes first (chunks may overlap)."""
        found = list(self._chunk_rows("SELECT * FROM chunks WHERE doc_id=? AND char_start<=? AND char_end>? "
                                      "ORDER BY char_start DESC LIMIT 1", [doc_id, offset, offset]))
        return found[0] if found else None

    def row_values(self, column: str) -> list[str]:
        """One column ("kind", "lang", "doc_id" or "section") of every chunk, in row order."""
        if column not in ("kind", "lang", "doc_id", "section"):
            raise ValueError(f"unknown chunk column {column!r}")
        return [r[0] for r in self._db().execute(f"SELECT {column} FROM chunks ORDER BY row")]

    def chunks_of(self, doc_id: str) -> list[StoredChunk]:
        return list(self._chunk_rows("SELECT * FROM chunks WHERE doc_id=? ORDER BY ordinal", [doc_id]))

    def chunks_at(self, rows: Sequence[int]) -> dict[int, StoredChunk]:
        found: dict[int, StoredChunk] = {}
        wanted = [int(r) for r in rows]
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            sql = f"SELECT * FROM chunks WHERE row IN ({','.join('?' * len(part))})"
            found.update((c.row, c) for c in self._chunk_rows(sql, part))
        return found

    def chunks_by_id(self, chunk_ids: Sequence[str]) -> dict[str, StoredChunk]:
        found: dict[str, StoredChunk] = {}
        for i in range(0, len(chunk_ids), 500):
            part = list(chunk_ids[i : i + 500])
            sql = f"SELECT * FROM chunks WHERE chunk_id IN ({','.join('?' * len(part))})"
            found.update((c.chunk.chunk_id, c) for c in self._chunk_rows(sql, part))
        return found

    def all_chunks(self) -> Iterator[StoredChunk]:
        return self._chunk_rows("SELECT * FROM chunks ORDER BY row", [])

    def vectors(self, dim: int) -> np.ndarray:
        """All chunk vectors in row order, as one (n, dim) array."""
        out = np.zeros((self.count(), dim), dtype=np.float32)
        for row, blob in self._db().execute("SELECT row, vector FROM chunks ORDER BY row"):
            out[row] = np.frombuffer(blob, dtype=np.float32)
        return out

    def vector_batches(self, dim: int, rows_per_batch: int = 8192) -> Iterator[np.ndarray]:
        """Chunk vectors in row order, `rows_per_batch` at a time (rows must be 0..n-1, no gaps)."""
        batch: list[bytes] = []
        for (blob,) in self._db().execute("SELECT vector FROM chunks ORDER BY row"):
            batch.append(blob)
            if len(batch) == rows_per_batch:
                yield np.frombuffer(b"".join(batch), dtype=np.float32).reshape(-1, dim)
                batch = []
        if batch:
            yield np.frombuffer(b"".join(batch), dtype=np.float32).reshape(-1, dim)

    def vectors_at(self, rows: Sequence[int] | np.ndarray, dim: int) -> np.ndarray:
        """The vectors of chunks at `rows`, in the order given."""
        out = np.zeros((len(rows), dim), dtype=np.float32)
        position = {int(r): i for i, r in enumerate(rows)}
        wanted = list(position)
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            sql = f"SELECT row, vector FROM chunks WHERE row IN ({','.join('?' * len(part))})"
            for row, blob in self._db().execute(sql, part):
                out[position[row]] = np.frombuffer(blob, dtype=np.float32)
        return out

    def token_lists(self) -> list[list[str]]:
        return list(self.iter_tokens())

    def iter_tokens(self) -> Iterator[list[str]]:
        """Every chunk's search tokens, in row order, one chunk at a time."""
        for (tokens,) in self._db().execute("SELECT tokens FROM chunks ORDER BY row"):
            yield tokens.split()


