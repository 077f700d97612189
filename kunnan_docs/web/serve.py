"""`kunnan-docs serve`: the watcher and the desk in one process; one Ctrl-C stops both.

The watcher runs in a thread (it owns the inbox lock and its ledger connection), uvicorn serves the desk
in the main thread and handles the signals; when uvicorn stops, the watcher finishes the cases in
progress and stops too.
"""

from __future__ import annotations

import getpass
import signal
import socket
import sys
import threading

import uvicorn

from kunnan_docs.errors import ExitCode, UsageError
from kunnan_docs.inbox.watcher import Config, prepared
from kunnan_docs.web.app import Desk, create_app
from kunnan_docs.web.security import LOCAL_HOSTS, USERS_FILE, Users, host_is_local


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


def serve(config: Config, host: str, port: int) -> ExitCode:
    users = Users(config.state / USERS_FILE)
    if not host_is_local(host) and not users:
        raise UsageError(f"工作台含有困难职工的个人信息:不设密码只能在本机({'、'.join(sorted(LOCAL_HOSTS))})上使用。"
                         f"要在 {host} 上让别的电脑访问,请先运行 kunnan-docs serve --set-password 设置密码。")
    sock = _bind(host, port)
    address = f"http://{f'[{host}]' if ':' in host else host}:{sock.getsockname()[1]}/"
    with prepared(config) as watcher:
        thread = threading.Thread(target=watcher.run, name="kunnan-watch")
        thread.start()
        desk = Desk(config.outbox, config.state, users, local_user=getpass.getuser(), watcher=watcher,
                    hosts=sorted({host, *LOCAL_HOSTS}), calendar=config.calendar, rejected=config.rejected)
        server = uvicorn.Server(uvicorn.Config(create_app(desk), log_level="warning", timeout_graceful_shutdown=3))
        print(f"档案室工作台已启动,请在浏览器中打开 {address}(按 Ctrl-C 停止工作台和收件夹监视)", flush=True)
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
