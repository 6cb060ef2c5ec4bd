"""API keys: created once and shown once, stored only as SHA-256 hashes in a JSON file.

A key looks like `ak_<id>_<secret>`; the id finds its entry, the hash of the whole key is
compared in constant time. Roles: `reader` (ask, retrieve, list documents) and `admin`
(also upload and delete documents). The file is rewritten atomically (temp file, rename).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from assistant.atomic import write_atomic

Role = Literal["reader", "admin"]
ROLES: tuple[Role, ...] = ("reader", "admin")

log = logging.getLogger(__name__)


class KeyError_(ValueError):
    """A key operation that cannot be done; the message says why."""


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    name: str
    role: Role
    sha256: str
    created: str
    revoked: str = ""
    rate_per_minute: int = 0  # 0: the server's default

    @property
    def active(self) -> bool:
        return not self.revoked


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, name and role."""

    key_id: str
    name: str
    role: Role
    rate_per_minute: int = 0


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyFileError(Exception):
    """The key file exists but cannot be read: fail closed."""


class KeyStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._mtime = -1.0
        self._records: dict[str, KeyRecord] = {}
        self._problem = ""

    def _load(self) -> dict[str, KeyRecord]:
        """The records, re-read when the file changed (keys revoked from the CLI take effect)."""
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            return {}
        if mtime != self._mtime:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                records = {r["key_id"]: KeyRecord(**r) for r in data.get("keys", [])}
            except (OSError, ValueError, TypeError, KeyError, AttributeError) as err:
                problem = f"the key file {self.path} cannot be read ({type(err).__name__}: {str(err)[:120]})"
                if problem != self._problem:
                    log.error("%s: every request is refused until it is fixed or restored "
                              "(`assistant keys create` writes a new one)", problem)
                self._problem = problem
                raise KeyFileError(problem) from err
            self._records, self._problem, self._mtime = records, "", mtime
        return self._records

    def problem(self) -> str:
        """Why the key file cannot be used ("" when it can): for /readyz."""
        try:
            with self._lock:
                self._load()
        except KeyFileError as err:
            return str(err)
        return ""

    def _save(self, records: dict[str, KeyRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, json.dumps({"keys": [asdict(r) for r in records.values()]}, indent=2),
                     durable=True, mode=0o600)
        self._mtime = -1.0

    def create(self, name: str, role: Role, rate_per_minute: int = 0) -> tuple[str, KeyRecord]:
        """A new key (returned once, in clear) and its stored record."""
        if role not in ROLES:
            raise KeyError_(f"unknown role '{role}': use reader or admin")
        with self._lock:
            records = dict(self._load())
            key_id = secrets.token_hex(4)
            while key_id in records:
                key_id = secrets.token_hex(4)
            key = f"ak_{key_id}_{secrets.token_urlsafe(32)}"
            record = KeyRecord(key_id=key_id, name=name, role=role, sha256=_hash(key),
                               created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), rate_per_minute=rate_per_minute)
            records[key_id] = record
            self._save(records)
        return key, record

    def list(self) -> list[KeyRecord]:
        with self._lock:
            return sorted(self._load().values(), key=lambda r: r.created)

    def revoke(self, key_id: str) -> KeyRecord:
        with self._lock:
            records = dict(self._load())
            record = records.get(key_id)
            if record is None:
                raise KeyError_(f"no key with id '{key_id}': see `assistant keys list`")
            if record.revoked:
                return record
            revoked = KeyRecord(**{**asdict(record), "revoked": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
            records[key_id] = revoked
            self._save(records)
        return revoked

    def verify(self, key: str) -> Principal | None:
        """The principal for a presented key, or None if it is unknown, malformed or revoked."""
        parts = key.split("_", 2)
        if len(parts) != 3 or parts[0] != "ak":
            return None
        with self._lock:
            record = self._load().get(parts[1])
        if record is None or not record.active or not hmac.compare_digest(record.sha256, _hash(key)):
            return None
        return Principal(record.key_id, record.name, record.role, record.rate_per_minute)
