"""API keys: shown once at creation, stored only as a SHA-256 digest.

A key is 256 random bits (`ork_` + URL-safe base64), so a fast unsalted hash is enough: nothing
can be brute-forced from the digest, and the lookup is by digest (the same way GitHub and Stripe
store tokens). The stored and computed digests are compared in constant time anyway. Every video
belongs to the key id that made it; revoking a key stops it at once (no cache).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from openreel.errors import InvalidInput
from openreel.serve.db import Database

PREFIX = "ork_"
LAST_USED_EVERY_S = 60.0  # write last_used_at at most this often per key

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
  id TEXT PRIMARY KEY,            -- key_<12 hex>: owner of the key's videos
  name TEXT NOT NULL,
  hint TEXT NOT NULL,             -- first characters of the key, to recognise it in listings
  sha256 TEXT NOT NULL UNIQUE,
  created_at REAL NOT NULL,
  revoked_at REAL,
  last_used_at REAL
)
"""


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    hint: str
    created_at: float
    revoked_at: float | None
    last_used_at: float | None


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class KeyStore:
    """Create, list, revoke and check API keys in the server's database."""

    def __init__(self, path: Path):
        self.db = Database(path, SCHEMA)
        self._last_used: dict[str, float] = {}
        self._lock = threading.Lock()

    def create(self, name: str) -> tuple[ApiKey, str]:
        """A new key named `name`; returns its record and the secret (shown once, never stored)."""
        name = name.strip()
        if not name or len(name) > 64:
            raise InvalidInput("name", "must be 1 to 64 characters")
        secret = PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(id=f"key_{uuid.uuid4().hex[:12]}", name=name, hint=secret[:10], created_at=time.time(),
                     revoked_at=None, last_used_at=None)
        with self.db.write() as conn:
            taken = conn.execute("SELECT 1 FROM api_keys WHERE name = ? AND revoked_at IS NULL", (name,)).fetchone()
            if taken:
                raise InvalidInput("name", f"an active key is already named {name!r}; revoke it or pick another name")
            conn.execute("INSERT INTO api_keys (id, name, hint, sha256, created_at) VALUES (?, ?, ?, ?, ?)",
                         (key.id, key.name, key.hint, digest(secret), key.created_at))
        return key, secret

    def list(self, include_revoked: bool = False) -> list[ApiKey]:
        rows = self.db.read("SELECT id, name, hint, created_at, revoked_at, last_used_at FROM api_keys "
                            "WHERE ? OR revoked_at IS NULL ORDER BY created_at", (include_revoked,))
        return [ApiKey(**dict(r)) for r in rows]

    def revoke(self, id_or_name: str) -> ApiKey:
        with self.db.write() as conn:
            rows = conn.execute("SELECT id, name, hint, created_at, revoked_at, last_used_at FROM api_keys "
                                "WHERE (id = ? OR name = ?) AND revoked_at IS NULL",
                                (id_or_name, id_or_name)).fetchall()
            if not rows:
                raise InvalidInput("key", f"no active key with id or name {id_or_name!r}")
            now = time.time()
            conn.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ?", (now, rows[0]["id"]))
        return ApiKey(**(dict(rows[0]) | {"revoked_at": now}))

    def authenticate(self, secret: str) -> ApiKey | None:
        """The active key whose secret this is, or None."""
        if not secret.startswith(PREFIX) or len(secret) > 128:
            return None
        wanted = digest(secret)
        rows = self.db.read("SELECT id, name, hint, sha256, created_at, revoked_at, last_used_at FROM api_keys "
                            "WHERE sha256 = ?", (wanted,))
        if not rows or not hmac.compare_digest(rows[0]["sha256"], wanted) or rows[0]["revoked_at"] is not None:
            return None
        row = dict(rows[0])
        del row["sha256"]
        self._touch(row["id"])
        return ApiKey(**row)

    def _touch(self, key_id: str) -> None:
        now = time.time()
        with self._lock:
            if now - self._last_used.get(key_id, 0.0) < LAST_USED_EVERY_S:
                return
            self._last_used[key_id] = now
        with self.db.write() as conn:
            conn.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", (now, key_id))
