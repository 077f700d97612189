"""Who may use the desk, and what it may hand out: hashed passwords checked in constant time, a lockout with
backoff against guessing, sessions that exist only after a login, CSRF tokens (a signed double-submit cookie
before login), the host names the desk answers to, downloads confined to the outbox without following links,
and the audit log."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import stat
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

from kunnan_docs.errors import UsageError
from kunnan_docs.package.nolinks import LinkFound, open_below
from kunnan_docs.privacy import mask_text

USERS_FILE = "desk-users"  # in the outbox's state folder, next to the ledger; never downloadable
AUDIT_FILE = "desk-audit.log"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
SESSION_IDLE = 8 * 3600  # seconds: a working day
MAX_SESSIONS = 1000  # logged-in sessions kept at once; past it the longest idle one ends
NAME_MAX = 64  # characters of a user name
PASSWORD_MAX = 256  # characters of a password: scrypt's cost stays the same, the form stays small
FIELD_MAX = 200  # characters of one text in an audit line
ITEMS_MAX = 2000  # entries of one list in an audit line (a district's archive numbers)
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # OWASP's minimum for scrypt; about 50 ms and 16 MB per check
_HASHING = threading.BoundedSemaphore(2)  # checks at once: a burst of logins cannot take all memory and cores


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${_b64(salt)}${_b64(digest)}"


def password_matches(password: str, stored: str) -> bool:
    """Blocks for the scrypt check: call it off the event loop."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        wanted = base64.b64decode(digest)
        with _HASHING:
            got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                 dklen=len(wanted))
    except ValueError:
        return False
    return scheme == "scrypt" and hmac.compare_digest(got, wanted)


def _printable(text: str) -> bool:
    return not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text)


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
        # An unknown name is checked against this, so that it costs the same scrypt run as a known one.
        self._stand_in = hash_password(secrets.token_urlsafe(16)) if self.hashes else ""

    def __bool__(self) -> bool:
        return bool(self.hashes)

    def check(self, name: str, password: str) -> bool:
        """One scrypt run whether or not the name exists; blocks: call it off the event loop."""
        stored = self.hashes.get(name)
        matches = password_matches(password, stored or self._stand_in)
        return matches and stored is not None

    def set(self, name: str, password: str) -> None:
        if not name or ":" in name or len(name) > NAME_MAX or not _printable(name):
            raise UsageError(f"用户名“{name[:NAME_MAX]}”不可用:不能为空,不能含冒号、换行或控制字符,"
                             f"最多 {NAME_MAX} 个字符。请换一个用户名。")
        if len(password) < 8 or len(password) > PASSWORD_MAX:
            raise UsageError(f"密码长度不合适:至少 8 个、最多 {PASSWORD_MAX} 个字符。请重新设置。")
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


# -- lockout -------------------------------------------------------------------------------------------

FREE_TRIES = 5  # wrong passwords before the first pause (typing errors)
FIRST_PAUSE = 30.0  # seconds; doubled at each further wrong password
LONGEST_PAUSE = 900.0
FORGET_AFTER = 3600.0  # seconds without a wrong password after which the count starts again
MAX_KEYS = 10_000  # user names and addresses remembered at once


@dataclass
class _Strikes:
    count: int = 0
    last: float = 0.0
    reported: float = -1.0  # the end of the pause already written to the audit log

    def until(self) -> float:
        if self.count < FREE_TRIES:
            return 0.0
        return self.last + min(FIRST_PAUSE * 2 ** (self.count - FREE_TRIES), LONGEST_PAUSE)


class Throttle:
    """Wrong passwords per user name and per address. A try counts as wrong when it starts (taken back if it
    succeeds), so that guesses sent in parallel are counted before any of them is checked."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.strikes: OrderedDict[str, _Strikes] = OrderedDict()

    def begin(self, keys: Iterable[str]) -> float:
        """0 and a strike on every key, or (nothing counted) the seconds until the last of their pauses ends."""
        now = self.clock()
        keys = list(keys)
        wait = max((s.until() - now for k in keys if (s := self.strikes.get(k))), default=0.0)
        if wait > 0:
            return wait
        for key in keys:
            s = self.strikes.pop(key, None) or _Strikes()
            if now - s.last > FORGET_AFTER:
                s = _Strikes()
            s.count, s.last = s.count + 1, now
            self.strikes[key] = s  # most recent last, so that the oldest go first when memory is full
        while len(self.strikes) > MAX_KEYS:
            self.strikes.popitem(last=False)
        return 0.0

    def first_report(self, keys: Iterable[str]) -> bool:
        """True once per pause: a refused try is written to the audit log only when the pause is first met."""
        fresh = False
        for key in keys:
            s = self.strikes.get(key)
            if s and s.until() > self.clock() and s.reported != s.until():
                s.reported, fresh = s.until(), True
        return fresh

    def succeeded(self, user_key: str, address_key: str) -> None:
        """The user's count starts again; the address's strike for this try is taken back."""
        self.strikes.pop(user_key, None)
        s = self.strikes.get(address_key)
        if s:
            s.count = max(0, s.count - 1)


# -- sessions and CSRF ---------------------------------------------------------------------------------

@dataclass
class Session:
    user: str | None
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    seen: float = field(default_factory=time.monotonic)


class Sessions:
    """Logged-in sessions, in memory: logging out (or restarting the desk) ends a session for good, unlike a signed
    cookie. Expired ones are purged at most once a minute and whenever a session is added."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.by_token: dict[str, Session] = {}
        self._purged = clock()

    def get(self, token: str | None) -> Session | None:
        now = self.clock()
        if now - self._purged > 60:
            self.purge()
        session = self.by_token.get(token or "")
        if session is None or now - session.seen > SESSION_IDLE:
            self.by_token.pop(token or "", None)
            return None
        session.seen = now
        return session

    def new(self, user: str) -> tuple[str, Session]:
        self.purge()
        while len(self.by_token) >= MAX_SESSIONS:
            self.by_token.pop(min(self.by_token, key=lambda t: self.by_token[t].seen))
        token = secrets.token_urlsafe(32)
        self.by_token[token] = Session(user, seen=self.clock())
        return token, self.by_token[token]

    def end(self, token: str | None) -> None:
        self.by_token.pop(token or "", None)

    def purge(self) -> None:
        now = self._purged = self.clock()
        for token in [t for t, s in self.by_token.items() if now - s.seen > SESSION_IDLE]:
            del self.by_token[token]


class FormTokens:
    """CSRF tokens for visitors without a server session (the login form; the desk without passwords): a random
    value signed with this process's key, sent as a cookie and in the form (signed double-submit). The key is new
    at every start, so a form from before a restart asks to be reloaded."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def _sign(self, nonce: str) -> str:
        return base64.urlsafe_b64encode(hmac.digest(self._key, nonce.encode(), "sha256")).decode().rstrip("=")

    def new(self) -> str:
        nonce = secrets.token_urlsafe(24)
        return f"{nonce}.{self._sign(nonce)}"

    def valid(self, token: str | None) -> bool:
        nonce, _, mac = (token or "").partition(".")
        return bool(nonce) and len(token or "") < 100 and hmac.compare_digest(mac.encode(), self._sign(nonce).encode())


def csrf_ok(session: Session, sent: object) -> bool:
    return isinstance(sent, str) and hmac.compare_digest(session.csrf.encode(), sent.encode())


# -- host names ----------------------------------------------------------------------------------------

def host_of(header: str) -> str | None:
    """The host of a Host header (`name`, `name:port`, `1.2.3.4:port`, `[::1]:port`), lower case, or None."""
    header = header.strip().lower()
    if header.startswith("["):
        host, sep, rest = header[1:].partition("]")
        return host if sep and (not rest or (rest[1:].isdigit() and rest[0] == ":")) else None
    host, _, port = header.partition(":")
    if ":" in port or (port and not port.isdigit()):
        return None
    return host.rstrip(".") or None


_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


def host_name_ok(text: str) -> bool:
    """A name a browser can send as Host: ASCII labels (a Chinese domain in its xn-- form) or an address."""
    host = host_of(text)
    return host is not None and (bool(_HOST_NAME.fullmatch(host)) or _address(host) is not None)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


@dataclass(frozen=True)
class AllowedHosts:
    """The host names a request may be addressed to (a foreign name is refused: DNS rebinding). Besides the
    listed names, an address written as such is accepted when it is the address the request arrived on: no
    rebinding can put a literal address of this computer into a browser's Host header."""

    names: frozenset[str] = frozenset(LOCAL_HOSTS)

    def allows(self, header: str, local_address: str | None) -> bool:
        host = host_of(header)
        if host is None:
            return False
        if host in self.names:
            return True
        here, asked = _address(local_address or ""), _address(host)
        return asked is not None and asked == here

    @classmethod
    def for_bind(cls, host: str, machine: Iterable[str], extra: Iterable[str] = ()) -> AllowedHosts:
        """For `serve --host HOST`: loopback names when the desk listens there (or everywhere), the computer's
        own names and addresses (`machine`) when it listens beyond it, and the clerk's --allowed-host names."""
        bound = _address(host)
        wildcard = bound is not None and bound.is_unspecified
        loopback = host == "localhost" or (bound is not None and bound.is_loopback)
        names = set() if wildcard else {host.lower()}
        if wildcard or loopback:
            names |= LOCAL_HOSTS
        if not loopback:
            names |= {m.lower().rstrip(".") for m in machine if m}
        names |= {h for e in extra if (h := host_of(e))}
        return cls(frozenset(names))


# -- downloads -----------------------------------------------------------------------------------------

def open_inside(root: Path, rel: str) -> BinaryIO | None:
    """The file `rel` names below `root`, opened, or None: no `..`, no absolute or drive path, no hidden parts (the
    ledger, the password file, the audit log), no symbolic link anywhere on the way, nothing but a regular file."""
    if not rel or "\\" in rel or "\0" in rel or PureWindowsPath(rel).drive or rel.startswith("/"):
        return None
    parts = PurePosixPath(rel).parts
    if any(part in ("..", ".") or part.startswith(".") for part in parts):
        return None
    try:
        return open_below(root, parts)
    except (OSError, LinkFound):
        return None


# -- audit ---------------------------------------------------------------------------------------------

def _bounded(value: object) -> object:
    """A value as the audit log keeps it: texts masked, one line, at most FIELD_MAX characters; lists cut."""
    if isinstance(value, str):
        text = "".join(c if _printable(c) else "\ufffd" for c in mask_text(value))
        return text if len(text) <= FIELD_MAX else text[:FIELD_MAX] + f"…(共 {len(text)} 字)"
    if isinstance(value, list | tuple):
        items = [_bounded(v) for v in value[:ITEMS_MAX]]
        return items + ([f"…(共 {len(value)} 项)"] if len(value) > ITEMS_MAX else [])
    if value is None or isinstance(value, bool | int | float):
        return value
    return _bounded(str(value))


def audit(state: Path, user: str, action: str, **details: object) -> None:
    """One JSON line per action (state changes, downloads, refusals), written through to disk; archive numbers,
    never ID or phone numbers. The file is the owner's alone: it names who looked at which family's file."""
    state.mkdir(parents=True, exist_ok=True)
    record = {"time": datetime.now().isoformat(timespec="seconds"), "user": user, "action": action, **details}
    line = json.dumps({k: _bounded(v) for k, v in record.items()}, ensure_ascii=False)
    fd = os.open(state / AUDIT_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077 and hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # a log left readable by an older version
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())
