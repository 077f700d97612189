"""`kunnan-docs serve` as real processes on the addresses clerks use: ::1, 0.0.0.0 and a network address
(127.0.0.2 stands for one), over plain HTTP where the desk stays on this computer and over HTTPS elsewhere, with
the certificate's fingerprint printed at start compared with the one the server really presents."""

from __future__ import annotations

import hashlib
import http.client
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from kunnan_docs.cli import main
from kunnan_docs.errors import ExitCode
from kunnan_docs.web import tls
from kunnan_docs.web.security import USERS_FILE

WAIT = 90  # seconds for a start; the machine is shared
FINGERPRINT = re.compile(r"HTTPS 证书指纹\(SHA-256\):((?:[0-9A-F]{2}:){31}[0-9A-F]{2})")


@dataclass
class Desk:
    port: int
    output: str
    scheme: str

    @property
    def fingerprint(self) -> str:
        return FINGERPRINT.search(self.output).group(1)


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def with_password(root: Path) -> None:
    (root / "inbox").mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "kunnan_docs", "serve", str(root / "inbox"), str(root / "outbox"),
                    "--set-password", "--user", "张丽"], input="correct horse\n", text=True, check=True,
                   capture_output=True)


@contextmanager
def serving(root: Path, host: str, *options: str) -> Iterator[Desk]:
    """The desk as a clerk starts it; stopped with one Ctrl-C, which must stop it cleanly."""
    (root / "inbox").mkdir(parents=True, exist_ok=True)
    port = free_port(host)
    log_path = root / f"serve-{port}.log"
    with log_path.open("w", encoding="utf-8") as log:
        proc = subprocess.Popen([sys.executable, "-m", "kunnan_docs", "serve", str(root / "inbox"),
                                 str(root / "outbox"), "--host", host, "--port", str(port), "--settle", "0.5",
                                 "--workers", "1", *options], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + WAIT
        while "已启动" not in (output := log_path.read_text(encoding="utf-8")) or not _listening(host, port):
            assert proc.poll() is None and time.monotonic() < deadline, output
            time.sleep(0.2)
        try:
            yield Desk(port, output, "https" if "https://" in output else "http")
        finally:
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=60)
    output = log_path.read_text(encoding="utf-8")
    assert code == 0 and "工作台已停止" in output, output


def _listening(host: str, port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1" if host == "0.0.0.0" else host, port), timeout=2).close()
    except OSError:
        return False
    return True


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    text: str
    fingerprint: str | None  # of the certificate the server presented


def get(address: str, port: int, path: str, https: bool, host: str | None = None, cafile: Path | None = None,
        method: str = "GET", body: str | None = None, headers: dict[str, str] | None = None) -> Answer:
    """One request; over HTTPS either verified against `cafile` (name included) or, like a clerk with a browser
    warning, accepted for now and its fingerprint returned for comparison."""
    if https:
        context = ssl.create_default_context(cafile=cafile) if cafile else ssl._create_unverified_context()
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(address, port, timeout=30, context=context)
    else:
        conn = http.client.HTTPConnection(address, port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=True)
        port_part = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        conn.putheader("Host", host or port_part)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        data = body.encode() if body is not None else None
        if data is not None:
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        response = conn.getresponse()
        peer = conn.sock.getpeercert(binary_form=True) if https else None
        answer = Answer(response.status, response.headers, response.read().decode("utf-8", "replace"),
                        ":".join(f"{b:02X}" for b in hashlib.sha256(peer).digest()) if peer else None)
    finally:
        conn.close()
    return answer


def assert_secure_page(answer: Answer) -> None:
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["Cache-Control"] == "no-store" and answer.headers["X-Content-Type-Options"] == "nosniff"


def test_ipv6_loopback_plain_and_with_the_offices_certificate(tmp_path: Path) -> None:
    with serving(tmp_path, "::1") as desk:
        assert desk.scheme == "http" and f"http://[::1]:{desk.port}/" in desk.output
        page = get("::1", desk.port, "/inbox", https=False)
        assert page.status == 200 and "收件箱" in page.text  # no longer 400 Invalid host header
        assert_secure_page(page)
        assert get("::1", desk.port, "/inbox", https=False, host=f"localhost:{desk.port}").status == 200
        refused = get("::1", desk.port, "/inbox", https=False, host="evil.example")
        assert refused.status == 400 and "允许的名称" in refused.text
        assert_secure_page(refused)
    cert, key = tmp_path / "office.pem", tmp_path / "office.key"
    tls._make(cert, key, {"::1", "localhost"})  # as an office's own certificate would be
    with serving(tmp_path, "::1", "--tls-cert", str(cert), "--tls-key", str(key)) as desk:
        assert f"https://[::1]:{desk.port}/" in desk.output and desk.fingerprint == tls.fingerprint(cert)
        page = get("::1", desk.port, "/login", https=True, cafile=cert)  # verified, the name ::1 included
        assert page.status == 200 and "登录" in page.text and page.fingerprint == desk.fingerprint
        assert "secure" in page.headers["Set-Cookie"].lower()
    assert not (tmp_path / "outbox" / ".kunnan" / tls.CERT_FILE).exists()  # the office's certificate was used


def test_all_addresses_with_a_certificate_made_on_first_start(tmp_path: Path) -> None:
    with_password(tmp_path)
    with serving(tmp_path, "0.0.0.0", "--allowed-host", "archive.example") as desk:
        state = tmp_path / "outbox" / ".kunnan"
        assert "已为本机生成 HTTPS 证书" in desk.output and f"https://127.0.0.1:{desk.port}/" in desk.output
        assert desk.fingerprint == tls.fingerprint(state / tls.CERT_FILE)
        assert (state / tls.KEY_FILE).stat().st_mode & 0o077 == 0
        page = get("127.0.0.1", desk.port, "/login", https=True)
        assert page.status == 200 and page.fingerprint == desk.fingerprint
        assert_secure_page(page)
        for address, host in [("127.0.0.2", None), ("127.0.0.1", socket.gethostname()),
                              ("127.0.0.1", f"archive.example:{desk.port}")]:
            answer = get(address, desk.port, "/login", https=True, host=host)
            assert answer.status == 200 and "登录" in answer.text, (address, host)
        refused = get("127.0.0.1", desk.port, "/login", https=True, host="evil.example")
        assert refused.status == 400 and "不接受" in refused.text
        assert_secure_page(refused)
        with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
            get("127.0.0.1", desk.port, "/login", https=False)  # no plain HTTP beside HTTPS


def test_network_address_over_https_keeps_its_certificate(tmp_path: Path) -> None:
    with_password(tmp_path)
    cert = tmp_path / "outbox" / ".kunnan" / tls.CERT_FILE
    with serving(tmp_path, "127.0.0.2") as desk:
        first = desk.fingerprint
        assert f"https://127.0.0.2:{desk.port}/" in desk.output
        page = get("127.0.0.2", desk.port, "/login", https=True, cafile=cert)  # the name 127.0.0.2 is in it
        assert page.fingerprint == first
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        cookie = page.headers["Set-Cookie"].split(";")[0]
        login = get("127.0.0.2", desk.port, "/login", https=True, cafile=cert, method="POST",
                    body=f"user=%E5%BC%A0%E4%B8%BD&password=correct+horse&csrf={csrf}&next=/packages",
                    headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
        assert login.status == 303 and login.headers["Location"] == "/packages"
        assert "secure" in login.headers["Set-Cookie"].lower() and "httponly" in login.headers["Set-Cookie"].lower()
    with serving(tmp_path, "127.0.0.2") as desk:
        assert "已为本机生成" not in desk.output and desk.fingerprint == first  # the clerks compared this one


def test_network_start_refusals(tmp_path: Path, capsys) -> None:
    (tmp_path / "inbox").mkdir()
    args = ["serve", str(tmp_path / "inbox"), str(tmp_path / "outbox"), "--port", "0"]
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    tls._make(cert, key, {"localhost"})
    for host in ["0.0.0.0", "::", "127.0.0.2"]:  # no password: no network, with or without a certificate
        assert main([*args, "--host", host, "--tls-cert", str(cert), "--tls-key", str(key)]) == ExitCode.USAGE
        assert "--set-password" in capsys.readouterr().err
    assert not (tmp_path / "outbox" / ".kunnan" / tls.CERT_FILE).exists()
    (tmp_path / "outbox" / ".kunnan").mkdir(parents=True)
    (tmp_path / "outbox" / ".kunnan" / USERS_FILE).write_text("张丽:scrypt$16384$8$1$AAAA$AAAA\n", encoding="utf-8")
    assert main([*args, "--tls-cert", str(cert)]) == ExitCode.USAGE
    assert "--tls-key" in capsys.readouterr().err
    assert main([*args, "--tls-cert", str(cert), "--tls-key", str(cert)]) == ExitCode.USAGE  # not its key
    assert "无法使用 HTTPS 证书" in capsys.readouterr().err
    assert main([*args, "--allowed-host", "a b/c"]) == ExitCode.USAGE
    assert "--allowed-host" in capsys.readouterr().err
