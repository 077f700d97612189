"""Who may use the desk, and what it may hand out: hashed passwords, server-side sessions with a CSRF token,
downloads confined to the outbox, and the audit log of every state-changing action."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath, PureWindowsPath

from kunnan_docs.errors import UsageError

USERS_FILE = "desk-users"  # in the outbox's state folder, next to the ledger; never downloadable
AUDIT_FILE = "desk-audit.log"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
SESSION_IDLE = 8 * 3600  # seconds: a working day
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # OWASP's minimum for scrypt; about 50 ms per check


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${_b64(salt)}${_b64(digest)}"


def password_matches(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        wanted = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(wanted))
    except ValueError:
        return False
    return scheme == "scrypt" and hmac.compare_digest(got, wanted)


class Users:
    """`name:scrypt$…` lines; the file holds hashes only and is written with owner-only permissions."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.hashes: dict[str, str] = {}
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                name, sep, stored = line.rpartition(":")
                if sep and name:
                    self.hashes[name] = stored

    def __bool__(self) -> bool:
        return bool(self.hashes)

    def check(self, name: str, password: str) -> bool:
        stored = self.hashes.get(name)
        return stored is not None and password_matches(password, stored)

    def set(self, name: str, password: str) -> None:
        if not name or ":" in name or "\n" in name:
            raise UsageError(f"用户名“{name}”不可用:不能为空,不能含冒号或换行。")
        if len(password) < 8:
            raise UsageError("密码太短:至少 8 个字符。")
        self.hashes[name] = hash_password(password)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("".join(f"{n}:{h}\n" for n, h in sorted(self.hashes.items())))
        os.replace(tmp, self.path)


def host_is_local(host: str) -> bool:
    """Only these names count as this computer alone; any other address (even 127.0.0.2) needs a password."""
    return host in LOCAL_HOSTS


@dataclass
class Session:
    user: str | None
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    seen: float = field(default_factory=time.monotonic)


class Sessions:
    """Kept in memory: logging out (or restarting the desk) ends a session for good, unlike a signed cookie."""

    def __init__(self) -> None:
        self.by_token: dict[str, Session] = {}

    def get(self, token: str | None) -> Session | None:
        session = self.by_token.get(token or "")
        if session is None or time.monotonic() - session.seen > SESSION_IDLE:
            self.by_token.pop(token or "", None)
            return None
        session.seen = time.monotonic()
        return session

    def new(self, user: str | None) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        self.by_token[token] = Session(user)
        return token, self.by_token[token]

    def end(self, token: str | None) -> None:
        self.by_token.pop(token or "", None)


def csrf_ok(session: Session, sent: object) -> bool:
    return isinstance(sent, str) and hmac.compare_digest(session.csrf.encode(), sent.encode())


def file_inside(root: Path, rel: str) -> Path | None:
    """The file `rel` names below `root`, or None: no `..`, no absolute or drive path, no hidden parts (the
    ledger, the password file, the audit log), no symbolic link anywhere on the way."""
    if not rel or "\\" in rel or "\0" in rel or PureWindowsPath(rel).drive or rel.startswith("/"):
        return None
    parts = PurePosixPath(rel).parts
    if any(part in ("..", ".") or part.startswith(".") for part in parts):
        return None
    path = root
    for part in parts:
        path = path / part
        if path.is_symlink():
            return None
    real = path.resolve()
    if not path.is_file() or root.resolve() not in real.parents:
        return None
    return path


def audit(state: Path, user: str, action: str, **details: object) -> None:
    """One JSON line per state-changing action, written through to disk; archive numbers, never personal data."""
    state.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"time": datetime.now().isoformat(timespec="seconds"), "user": user, "action": action,
                       **details}, ensure_ascii=False)
    with (state / AUDIT_FILE).open("a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())
