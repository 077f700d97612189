"""`kunnan-docs serve`: the watcher and the desk in one process; one Ctrl-C stops both.

The watcher runs in a thread (it owns the inbox lock and its ledger connection), uvicorn serves the desk
in the main thread and handles the signals; when uvicorn stops, the watcher finishes the cases in
progress and stops too. On any address beyond this computer the desk needs a password and speaks HTTPS only.
"""

from __future__ import annotations

import contextlib
import getpass
import ipaddress
import signal
import socket
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

import uvicorn

from kunnan_docs.errors import ExitCode, UsageError
from kunnan_docs.inbox.watcher import Config, prepared
from kunnan_docs.web import tls as tls_files
from kunnan_docs.web.app import Desk, create_app
from kunnan_docs.web.security import LOCAL_HOSTS, USERS_FILE, AllowedHosts, Users, host_is_local, host_name_ok


def set_password(config: Config, user: str) -> None:
    """Ask twice on a terminal; read one line from standard input otherwise (scripts, tests)."""
    if sys.stdin.isatty():
        password = getpass.getpass(f"为用户“{user}”设置密码(至少 8 个字符):")
        if getpass.getpass("再输入一次:") != password:
            raise UsageError("两次输入的密码不一致,密码没有改。请重新运行。")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    users = Users(config.state / USERS_FILE)
    users.set(user, password)
    print(f"已为用户“{user}”设置密码(只保存其 scrypt 散列,在 {users.path})。")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"无法在 {host}:{port} 上启动工作台({exc.strerror})。端口可能已被占用:"
                         f"请用 --port 换一个端口,例如 --port {port + 1}。") from None
    return sock


def machine_names() -> set[str]:
    """This computer's names and the addresses its name resolves to: what clerks elsewhere may type."""
    names = {socket.gethostname(), socket.getfqdn()}
    with contextlib.suppress(OSError):  # a name the network does not resolve: the names and --allowed-host remain
        names |= {str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None)}
    return {n for n in names if n and "%" not in n}


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _url(scheme: str, host: str, port: int) -> str:
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}/"


def _where(host: str, machine: set[str], scheme: str, port: int) -> str:
    """Where to open the desk: the bound address, or for 0.0.0.0/:: this computer and its names elsewhere."""
    bound = _ip(host)
    if bound is None or not bound.is_unspecified:
        return _url(scheme, host, port)
    elsewhere = sorted(m for m in machine if m != "localhost" and not ((a := _ip(m)) and a.is_loopback))
    return f"{_url(scheme, '127.0.0.1', port)}(本机)" + "".join(f"、{_url(scheme, m, port)}" for m in elsewhere)


def serve(config: Config, host: str, port: int, allowed: Iterable[str] = (), tls_cert: Path | None = None,
          tls_key: Path | None = None) -> ExitCode:
    users = Users(config.state / USERS_FILE)
    if not host_is_local(host) and not users:
        raise UsageError(f"工作台含有困难职工的个人信息:不设密码只能在本机({'、'.join(sorted(LOCAL_HOSTS))})上使用。"
                         f"要在 {host} 上让别的电脑访问,请先运行 kunnan-docs serve --set-password 设置密码。")
    if (tls_cert is None) != (tls_key is None):
        raise UsageError("--tls-cert 和 --tls-key 要一起给出(证书文件和它的私钥文件)。请补上另一个后重新启动。")
    allowed = list(allowed)
    if bad := [a for a in allowed if not host_name_ok(a)]:
        raise UsageError(f"--allowed-host 的值“{bad[0][:100]}”不是主机名或地址。请写成例如 archive.example 或 "
                         "192.168.1.20;中文域名请写成它的 xn-- 形式。")
    machine = machine_names()
    hosts = AllowedHosts.for_bind(host, machine, allowed)
    if tls_cert and tls_key:
        tls: tls_files.Tls | None = tls_files.given(tls_cert, tls_key)
    elif not host_is_local(host):
        tls = tls_files.own(config.state, {n for n in {host, *machine, *hosts.names}
                                           if not ((a := _ip(n)) and a.is_unspecified)})
    else:
        tls = None
    sock = _bind(host, port)
    scheme = "https" if tls else "http"
    address = _where(host, machine, scheme, sock.getsockname()[1])
    with prepared(config) as watcher:
        thread = threading.Thread(target=watcher.run, name="kunnan-watch")
        thread.start()
        desk = Desk(config.outbox, config.state, users, local_user=getpass.getuser(), watcher=watcher, hosts=hosts,
                    tls=tls is not None, calendar=config.calendar, rejected=config.rejected)
        secure = {"ssl_certfile": str(tls.cert), "ssl_keyfile": str(tls.key)} if tls else {}
        server = uvicorn.Server(uvicorn.Config(create_app(desk), log_level="warning", timeout_graceful_shutdown=3,
                                               **secure))
        print(f"档案室工作台已启动,请在浏览器中打开 {address}(按 Ctrl-C 停止工作台和收件夹监视)", flush=True)
        if tls:
            if tls.made:
                print(f"已为本机生成 HTTPS 证书(保存在 {tls.cert},以后每次启动都用它)。", flush=True)
            print(f"HTTPS 证书指纹(SHA-256):{tls.fingerprint}", flush=True)
            print("其他电脑第一次打开时,浏览器会提示证书不受信任:请在浏览器的证书信息里核对 SHA-256 指纹与上面完全相同,"
                  "再选择继续访问;指纹不同就不要登录,并告诉管理员。", flush=True)
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # uvicorn passes a SIGTERM on as a Ctrl-C
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:
            pass  # uvicorn has shut down already and passes the signal on
        finally:
            watcher.request_stop()
            thread.join()
    print("工作台已停止。", flush=True)
    return ExitCode.OK
