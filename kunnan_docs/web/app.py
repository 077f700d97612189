"""The clerk's desk: server-rendered pages over the same library functions the command line uses.

No business rule lives here: which cases are due, which notices print, what a handover holds and whether
a package verifies are all decided by kunnan_docs.staff / package / inbox. This module maps requests onto
those functions, guards the door (sessions, CSRF, downloads confined to the outbox) and writes the audit log.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import math
import mimetypes
import re
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, urlencode

from reportlab.graphics import renderSVG
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.datastructures import FormData, Headers, MutableHeaders, UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kunnan_docs.core.checklist import kind_spec
from kunnan_docs.core.findings import Finding, Severity
from kunnan_docs.core.labels import InboxStage, label
from kunnan_docs.core.rules import DUPLICATE_REASON
from kunnan_docs.core.zh import zh_date
from kunnan_docs.errors import BodyTooLarge, KunnanError
from kunnan_docs.forms.qr import form_label as qr_label
from kunnan_docs.inbox.ledger import PUBLISHED, Ledger, Row
from kunnan_docs.inbox.watcher import Watcher
from kunnan_docs.package.layout import HANDOVER_REGISTER, HANDOVERS, LEDGER, safe_name
from kunnan_docs.package.outbox import (
    Damaged,
    Published,
    history,
    open_package,
    package_in,
    pdf_problem,
    published,
    survey,
)
from kunnan_docs.package.verify import Problem, VerifiedBefore
from kunnan_docs.privacy import mask_text
from kunnan_docs.scan.filing import SCANNER_FOLDER, waiting_forms
from kunnan_docs.staff import notices
from kunnan_docs.staff.due import due_list
from kunnan_docs.staff.due import write_xlsx as write_due_xlsx
from kunnan_docs.staff.duplicates import duplicates, folded_note
from kunnan_docs.staff.handover import Handover, choose, hand_over, make_zip
from kunnan_docs.staff.handover_log import HandoverRecord, Offer, past, standings, version
from kunnan_docs.staff.progress import HEADERS as PROGRESS_HEADERS
from kunnan_docs.staff.progress import OTHER_HEADERS, tally
from kunnan_docs.staff.progress_sheet import chart, report_pdf
from kunnan_docs.web.casework import DESK_SOURCE, Casework, Draft, Origin, Submission, records
from kunnan_docs.web.form import (
    DROP,
    ROW,
    attachments,
    case_from_form,
    editor_form,
    parse_form,
    place,
    pointers,
    record_form,
    unknown_fields,
)
from kunnan_docs.web.review import ScanDesk
from kunnan_docs.web.security import (
    NAME_MAX,
    PASSWORD_MAX,
    AllowedHosts,
    FormTokens,
    Session,
    Sessions,
    Throttle,
    Users,
    audit,
    csrf_ok,
    host_of,
    open_inside,
)
from kunnan_docs.web.steps import Step, form_fields, offered, printed_forms, step_by_id, track, with_step
from kunnan_docs.web.uploads import MAX_BODY as UPLOAD_BODY
from kunnan_docs.web.uploads import MAX_FILE, MAX_FILES, Upload
from kunnan_docs.web.workbooks import MAX_BOOK, Pending, Workbooks

HERE = Path(__file__).resolve().parent
COOKIE = "kunnan_desk"  # a logged-in session
FORM_COOKIE = "kunnan_form"  # the signed CSRF token of a visitor without a session (double-submit)
PUBLIC_PATHS = ("/login", "/static/")
RECENT = 30  # rows per section of the inbox page (families in 已发布)
FAMILY_ROWS = 1000  # newest ledger rows read to find 已发布's latest RECENT families: a bound, not a promise
LIST_LIMIT = 200  # package rows on one page; a clerk narrows a longer list with the search field
MAX_BODY = 1 << 20  # bytes of a request: a district's handover form (an archive number a case) stays far below
UPLOADS = re.compile(r"/packages/[^/]+/(upload|hand-filled)|/scan|/workbooks")  # the only requests that may carry
# more: scans, and an Excel workbook to import (web/workbooks.MAX_BOOK bounds it on its own)

# Only our own stylesheet and script (no inline script or style), framed by nobody, no referrer, no caching of
# personal data. Files of the outbox may be framed by the desk's own package page (the PDF) and run nothing.
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
               "frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
FILE_POLICY = "default-src 'none'; frame-ancestors 'self'"
ALWAYS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
          "Cross-Origin-Resource-Policy": "same-origin"}


@dataclass
class Desk:
    """What one running desk serves: the folders, who may log in, and the watcher running beside it."""

    outbox: Path
    state: Path
    users: Users
    local_user: str = "本机"
    watcher: Watcher | None = None
    hosts: AllowedHosts = field(default_factory=AllowedHosts)
    tls: bool = False  # served over HTTPS: cookies are Secure
    sessions: Sessions = field(default_factory=Sessions)
    tokens: FormTokens = field(default_factory=FormTokens)
    throttle: Throttle = field(default_factory=Throttle)
    verified: VerifiedBefore = field(default_factory=VerifiedBefore)  # the 移交 page's verdicts, by files on disk
    calendar: str | None = None  # the watcher's calendar file: the editor's checks count working days alike
    rejected: Path | None = None  # the inbox's rejected/ area: rejected cases open in the editor from there
    scanner: Path | None = None  # the scanner folder (its 待核对/): the watcher's, else STATE/扫描件
    casework: Casework = field(init=False)  # the write path: drafts, submissions, records, corrections
    scandesk: ScanDesk = field(init=False)  # 扫描入卷, 待核对, 已核对

    def __post_init__(self) -> None:
        self.casework = Casework(self.outbox, self.state, self.calendar, self.rejected)
        scanner = self.scanner or (self.watcher.scanner.folder if self.watcher else self.state / SCANNER_FOLDER)
        self.scandesk = ScanDesk(self.casework, scanner, self.calendar)

    @property
    def login_required(self) -> bool:
        return bool(self.users)


templates = Jinja2Templates(directory=HERE / "templates")
# A safety net for texts written elsewhere (a ledger row from before masking): the one masking rule.
templates.env.filters["mask_ids"] = mask_text
templates.env.filters["label"] = label  # the Chinese word of any of our codes (core.labels): the one table
templates.env.globals["DESK_SOURCE"] = DESK_SOURCE
templates.env.filters["zh_date"] = lambda iso: zh_date(date.fromisoformat(iso)) if iso else ""


def _session(request: Request) -> Session:
    return request.state.session


def _desk(request: Request) -> Desk:
    return request.app.state.desk


def _user(request: Request) -> str:
    return _session(request).user or "-"


def _address(request: Request) -> str:
    return request.client.host if request.client else "-"


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.update(session=getattr(request.state, "session", None), desk=_desk(request))
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def problem(request: Request, message: str, status_code: int = 400, back: str = "") -> HTMLResponse:
    """The desk's page for what could not be done; `back`: the page to go back to (a package's)."""
    return page(request, "problem.html", status_code, message=message, back=back)


# -- the door: headers, host names, sizes, errors, sessions ----------------------------------------------

class SecureHeaders:
    """Outermost, so that every response has the headers: pages, files, redirects and every error page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers[name] = value
                framed = path.startswith("/files/") and message["status"] < 300  # a file, not a refusal page
                headers["Content-Security-Policy"] = FILE_POLICY if framed else PAGE_POLICY
                headers["X-Frame-Options"] = "SAMEORIGIN" if framed else "DENY"
                static = path.startswith("/static/") and message["status"] < 400  # our own files, no case data
                headers["Cache-Control"] = "no-cache" if static else "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class DeskApp(Starlette):
    def build_middleware_stack(self) -> ASGIApp:
        return SecureHeaders(super().build_middleware_stack())


class HostGate:
    """Only requests addressed to this desk's names (DNS rebinding), answered in Chinese otherwise."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            desk: Desk = scope["app"].state.desk
            header = Headers(scope=scope).get("host", "")
            server = scope.get("server")
            if not desk.hosts.allows(header, server[0] if server else None):
                request = Request(scope, receive)
                shown = (host_of(header) or header)[:100]
                response = problem(request, f"工作台不接受发往“{shown}”的请求(防止其他网站冒用本机地址)。请用启动工作台时"
                                            "显示的地址打开;要用别的名称访问(例如单位内部域名),请管理员在启动工作台时把该名称加入允许的名称。")
                return await response(scope, receive, send)
        await self.app(scope, receive, send)


class BodyLimit:
    """No request body over MAX_BODY: refused by its Content-Length, or read up to the limit before the desk sees
    it (a body sent in chunks has no length to check). Uploads of scans (UPLOADS) may carry up to UPLOAD_BODY: they
    are counted as they stream to the form parser (which spools files to disk), never held in memory whole."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        upload = scope["method"] == "POST" and UPLOADS.fullmatch(scope["path"]) is not None
        length = Headers(scope=scope).get("content-length", "0")
        if not length.isdigit() or int(length) > (UPLOAD_BODY if upload else MAX_BODY):
            return await too_large(Request(scope))(scope, receive, send)
        if upload:
            return await self._counted(scope, receive, send)
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY:
                return await too_large(Request(scope))(scope, receive, send)
        first: list[Message] = [{"type": "http.request", "body": bytes(body), "more_body": False}]

        async def replay() -> Message:
            return first.pop() if first else await receive()

        await self.app(scope, replay, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """An upload streams through, counted; past the limit the desk stops reading it and says so (unless it had
        begun to answer), whichever task was reading it."""
        seen, started = 0, False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > UPLOAD_BODY:
                raise BodyTooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except* BodyTooLarge:
            if not started:
                await too_large(Request(scope))(scope, receive, send)


def too_large(request: Request) -> Response:
    if UPLOADS.fullmatch(request.url.path):
        return problem(request, f"一次上传的文件合计超过 {UPLOAD_BODY >> 20} MB,没有保存。请分几次上传,或用 200–300 dpi "
                                "重新扫描后再上传。", 413)
    return problem(request, f"提交的内容太大(超过 {MAX_BODY // 1024} KB),没有处理。请分几次提交,例如每次少选一些案卷。", 413)



ERRORS = {
    404: "没有这个页面。地址可能输错了,或页面已移走:请用上方的导航打开。",
    405: "这个地址不能这样打开(请求方式不对)。请从工作台的页面上点击按钮操作,不要直接输入地址。",
}


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's 404, 405 and unreadable forms, in Chinese (its own English detail is never shown)."""
    status = exc.status_code if isinstance(exc, HTTPException) else 400
    message = ERRORS.get(status, "请求无法处理(表单可能不完整或已损坏)。请刷新页面后重新操作。")
    return problem(request, message, status if status in ERRORS else 400)


async def server_error(request: Request, exc: Exception) -> Response:
    """An unexpected failure: nothing of it is shown (it may quote case data); the server's log has the trace."""
    return problem(request, "工作台内部出错,这次操作没有完成,已保存的文件没有改动。请回到上一页重试;"
                            "如果再次出现,请记下时间并联系管理员查看工作台窗口里的出错信息。", 500)


class SessionGate(BaseHTTPMiddleware):
    """A logged-in session, or a visitor kept nowhere on the server whose CSRF token is a signed cookie; with users
    configured, only a logged-in session gets past the login page."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        desk = _desk(request)
        session = desk.sessions.get(request.cookies.get(COOKIE)) if desk.login_required else None
        fresh = None
        if session is None:
            token = request.cookies.get(FORM_COOKIE)
            if not desk.tokens.valid(token):
                token = fresh = desk.tokens.new()
            session = Session(None if desk.login_required else desk.local_user, csrf=token or "")
        request.state.session = session
        if session.user is None and not request.url.path.startswith(PUBLIC_PATHS):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            response: Response = RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        else:
            response = await call_next(request)
        if fresh:
            set_cookie(response, FORM_COOKIE, fresh, desk.tls)
        return response


def set_cookie(response: Response, name: str, value: str, secure: bool) -> None:
    response.set_cookie(name, value, httponly=True, samesite="strict", path="/", secure=secure)


Handler = Callable[[Request, FormData], Awaitable[Response]]


def state_changing(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """POST endpoints: the form must carry the session's CSRF token, or nothing happens. A refusal is audited and
    counts against the sender's address like a wrong password, so that forged posts cannot flood the log."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        form = await request.form()
        try:
            if not csrf_ok(_session(request), form.get("csrf")):
                desk, key = _desk(request), f"address:{_address(request)}"
                if desk.throttle.begin([key]) == 0 or desk.throttle.first_report([key]):
                    audit(desk.state, _user(request), "安全校验未通过", path=request.url.path, address=_address(request))
                return problem(request, "表单已过期或来源不明(安全校验未通过)。请刷新页面后重新操作。", 403)
            return await handler(request, form)
        finally:
            await form.close()  # an upload's spooled files: gone with the request, whatever happened

    return endpoint


# -- login ---------------------------------------------------------------------------------------------

def _next(target: object) -> str:
    """Only a path of this site, so that the login page cannot send a clerk elsewhere."""
    return target if isinstance(target, str) and re.fullmatch(r"/(?![/\\])[^\s]*", target) else "/"


async def login_page(request: Request) -> Response:
    return page(request, "login.html", next=_next(request.query_params.get("next")), error=None)


@state_changing
async def login(request: Request, form: FormData) -> Response:
    desk = _desk(request)
    name, password = str(form.get("user", "")), str(form.get("password", ""))
    target = _next(form.get("next"))
    if not desk.login_required:
        return RedirectResponse(target, status_code=303)
    keys = (f"user:{name[:NAME_MAX + 1].casefold()}", f"address:{_address(request)}")
    wait = desk.throttle.begin(keys)
    if wait:
        if desk.throttle.first_report(keys):
            audit(desk.state, name or "-", "登录被锁定", address=_address(request), seconds=math.ceil(wait))
        minutes = max(1, math.ceil(wait / 60))
        response = page(request, "login.html", 429, next=target,
                        error=f"密码输错的次数太多,登录已暂停。请 {minutes} 分钟后再试;忘记密码的,请管理员在运行工作台的"
                              "电脑上为你重新设置密码。")
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    fits = len(name) <= NAME_MAX and len(password) <= PASSWORD_MAX
    if not (fits and await asyncio.to_thread(desk.users.check, name, password)):  # scrypt: off the event loop
        audit(desk.state, name or "-", "登录失败", address=_address(request))
        return page(request, "login.html", 401, next=target, error="用户名或密码不对,请重新输入。")
    desk.throttle.succeeded(*keys)
    desk.sessions.end(request.cookies.get(COOKIE))  # logging in again (as someone else) ends the session before
    token, _ = desk.sessions.new(name)  # a new token: there is no session before login that could be fixated
    audit(desk.state, name, "登录", address=_address(request))
    response = RedirectResponse(target, status_code=303)
    set_cookie(response, COOKIE, token, desk.tls)
    return response


@state_changing
async def logout(request: Request, form: FormData) -> Response:
    desk = _desk(request)
    audit(desk.state, _user(request), "退出")
    desk.sessions.end(request.cookies.get(COOKIE))
    response = RedirectResponse("/login" if desk.login_required else "/", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=desk.tls)
    return response


# -- 收件箱 --------------------------------------------------------------------------------------------

def inbox_state(desk: Desk) -> dict[str, Any]:
    """What the ledger says and what the running watcher is still settling; re-read on every poll."""
    settling = desk.watcher.settling() if desk.watcher else []
    signed = waiting_forms(desk.outbox)
    path = desk.state / LEDGER
    if not path.is_file():
        return {"settling": settling, "signed": signed, "waiting": [], "building": [], "published": [], "rejected": []}
    ledger = Ledger(path, read_only=True)
    try:
        return {"settling": settling, "signed": signed, "waiting": ledger.newest(RECENT, "waiting"),
                "building": ledger.newest(RECENT, "building"),
                "published": published_families(desk.outbox, ledger),
                "rejected": ledger.newest(RECENT, "rejected")}
    finally:
        ledger.close()


def published_families(outbox: Path, ledger: Ledger) -> list[tuple[Row, Published | None, int | None]]:
    """已发布 one row per family, newest first: its latest ledger row, its current package and that package's
    version number. A year of desk work on one family (a record, a step, an upload: each a new version) is one
    line here, so 已退回 stays in view; the family's package page lists the versions."""
    latest: dict[str, Row] = {}
    for r in ledger.newest(FAMILY_ROWS, *PUBLISHED, InboxStage.DUPLICATE):
        key = safe_name(r.archive_no).casefold() if r.archive_no else f"#{r.id}"  # one archive number, one family
        latest.setdefault(key, r)
        if len(latest) == RECENT:
            break
    shown = []
    for r in latest.values():
        pkg = package_in(outbox, safe_name(r.archive_no)) if r.archive_no else None
        shown.append((r, pkg, version(outbox, pkg.folder) if pkg else None))
    return shown


async def inbox(request: Request) -> Response:
    return page(request, "inbox.html", **inbox_state(_desk(request)))


async def inbox_live(request: Request) -> Response:
    """The inbox page's sections alone: the page's script fetches them every two seconds."""
    return page(request, "inbox_sections.html", **inbox_state(_desk(request)))


# -- 案卷 ----------------------------------------------------------------------------------------------

def packages(request: Request) -> Response:
    """Plain def: reading every report.json runs in the thread pool, not on the event loop. Damaged folders are
    listed above the packages, whatever the search: a package that cannot be read must not disappear."""
    query = request.query_params.get("q", "").strip()
    readable, damaged = survey(_desk(request).outbox)
    cut = [(p, reason) for p in readable if (reason := pdf_problem(p))]
    damaged = sorted([*damaged, *(Damaged(p.folder, reason) for p, reason in cut)], key=lambda d: d.folder.name)
    spoilt = {p.folder for p, _ in cut}
    found = [p for p in readable if p.folder not in spoilt and _matches(p, query)]
    shown = found[:LIST_LIMIT]
    return page(request, "packages.html", packages=shown, total=len(found), q=query, damaged=damaged,
                standing=_standing(_desk(request).outbox, shown))


def _standing(outbox: Path, shown: list[Published]) -> dict[str, Offer]:
    """The packages handed over before, by folder, with their standing: 已移交, or changed or corrected since (the
    district's copy is outdated). Reads the manifests of packages handed over only."""
    history = past(outbox)
    return {o.package.folder.name: o for o in standings(shown, history) if o.last is not None} if history else {}


def _matches(pkg: Published, query: str) -> bool:
    """Search by archive number, name or unit (the fields a clerk has at hand)."""
    haystack = " ".join(str(x or "") for x in (pkg.archive_no, pkg.case.get("worker_name"), pkg.case.get("union"),
                                               pkg.case.get("district")))
    return all(word in haystack for word in query.split())


def package(request: Request) -> Response:
    desk = _desk(request)
    pkg = open_package(desk.outbox, request.path_params["folder"])
    if pkg is None:
        return problem(request, "发件夹中没有这个案卷。它可能已被重新成卷或移走,请回到案卷列表查找。", 404)
    if isinstance(pkg, Published) and (reason := pdf_problem(pkg)):
        pkg = Damaged(pkg.folder, reason)
    if isinstance(pkg, Damaged):
        return page(request, "damaged.html", damaged=pkg)
    versions = [(n, old, old.folder.relative_to(desk.outbox).as_posix()) for n, old in history(desk.outbox, pkg)]
    drafts = [d for d in desk.casework.drafts() if d.archive_no == pkg.archive_no]
    try:
        case: dict[str, Any] = desk.casework.current(pkg.folder.name)[0]
    except KunnanError:
        case = {}  # a package made before input/ was kept: nothing to record on it at the desk
    forms = printed_forms(pkg.report)
    items = [(i.id, f"第{i.no}项 {i.title}") for i in kind_spec(pkg.kind).items]
    return page(request, "package.html", pkg=pkg, rel=pkg.folder.name, versions=versions, writable=bool(case),
                standing=_standing(desk.outbox, [pkg]).get(pkg.folder.name),
                records=records(pkg.kind) if case else [], drafts=drafts, steps=offered(case), track=track(case),
                forms=forms, items=items, signable=[f for f in forms if f.state], max_files=MAX_FILES,
                max_file=MAX_FILE >> 20, max_body=UPLOAD_BODY >> 20, notes=desk.scandesk.notes(pkg))


async def package_zip(request: Request) -> Response:
    """The whole package folder as one zip, made with the handover's zip writer (UTF-8 names, no links)."""
    desk = _desk(request)
    pkg = package_in(desk.outbox, request.path_params["folder"])
    if pkg is None:
        return problem(request, "发件夹中没有这个案卷。它可能已被重新成卷或移走,请回到案卷列表查找。", 404)
    tmp = Path(tempfile.mkdtemp(prefix="kunnan-desk-"))
    target = tmp / f"{pkg.folder.name}.zip"
    try:
        await asyncio.to_thread(make_zip, pkg.folder, target)
    except KunnanError as exc:
        shutil.rmtree(tmp, True)
        audit(desk.state, _user(request), "下载被拒", folder=pkg.folder.name, reason=str(exc))
        return problem(request, exc.for_people, 409)
    audit(desk.state, _user(request), "下载", folder=pkg.folder.name, file=target.name)
    return FileResponse(target, filename=target.name, background=BackgroundTask(shutil.rmtree, tmp, True))


def download(request: Request) -> Response:
    """Files of the outbox only; anything else (../, absolute, hidden, links) is refused, not looked for. The file
    is opened without following a link at any step and sent from that open file."""
    desk, rel = _desk(request), request.path_params["rel"]
    f = open_inside(desk.outbox, rel)
    if f is None:
        audit(desk.state, _user(request), "下载被拒", file=rel)
        return problem(request, "只能下载发件夹里的案卷文件。这个地址不在发件夹内或文件不存在:请回到案卷页面,用那里的下载链接。", 404)
    name = rel.rsplit("/", 1)[-1]
    inline = name.lower().endswith(".pdf") and "download" not in request.query_params
    audit(desk.state, _user(request), "查看" if inline else "下载", file=rel)
    size = f.seek(0, io.SEEK_END)
    f.seek(0)
    kind = "inline" if inline else "attachment"
    headers = {"Content-Length": str(size), "Content-Disposition": f"{kind}; filename*=utf-8''{quote(name)}"}
    return StreamingResponse(_chunks(f), media_type=_media_type(name), headers=headers,
                             background=BackgroundTask(f.close))


def _chunks(f: BinaryIO) -> Iterator[bytes]:
    with f:
        while chunk := f.read(1 << 20):
            yield chunk


def _media_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


# -- 待办 ----------------------------------------------------------------------------------------------

def _date(text: str | None, default: date | None = None) -> date | None:
    try:
        return date.fromisoformat(text) if text else default
    except ValueError:
        return default


async def due(request: Request) -> Response:
    as_of = _date(request.query_params.get("as_of"), date.today()) or date.today()
    items, folded = due_list(_desk(request).outbox, as_of)
    groups: dict[str, list[Any]] = {}
    for item in items:
        groups.setdefault(item.contact, []).append(item)
    return page(request, "due.html", as_of=as_of, groups=groups, total=len(items),
                overdue=sum(d.overdue for d in items), folded=folded_note(folded))


async def due_xlsx(request: Request) -> Response:
    as_of = _date(request.query_params.get("as_of"), date.today()) or date.today()
    buf = io.BytesIO()
    write_due_xlsx(due_list(_desk(request).outbox, as_of, reach=True).items, as_of, buf)
    audit(_desk(request).state, _user(request), "下载", file=f"到期提醒-{as_of.isoformat()}.xlsx")
    return Response(buf.getvalue(), media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers=_attachment(f"到期提醒-{as_of.isoformat()}.xlsx"))


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f"attachment; filename*=utf-8''{quote(name)}"}


# -- 打印公示 ------------------------------------------------------------------------------------------

async def notices_page(request: Request) -> Response:
    start, end = _date(request.query_params.get("from")), _date(request.query_params.get("to"))
    chosen = notices.select(_desk(request).outbox, start, end) if (start or end) else []
    return page(request, "notices.html", start=start, end=end, chosen=chosen, asked=bool(start or end))


@state_changing
async def notices_print(request: Request, form: FormData) -> Response:
    desk = _desk(request)
    start, end = _date(str(form.get("from", ""))), _date(str(form.get("to", "")))
    chosen = notices.select(desk.outbox, start, end)
    if not chosen:
        return problem(request, "这段日期内没有开始公示的脱困案卷,没有可打印的公示。请换一个日期范围。", 404)
    run = await asyncio.to_thread(notices.combine, chosen)
    audit(desk.state, _session(request).user or "-", "打印公示", start=str(start or ""), end=str(end or ""),
          cases=[p.archive_no for p in chosen])
    name = f"脱困公示-{start or '最早'}至{end or '最近'}.pdf"
    return Response(run.pdf, media_type="application/pdf", headers=_attachment(name))


# -- 移交 ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PastHandover:
    """A past handover as the 移交 page lists it: its record, and its files' links when they are in the outbox."""

    record: HandoverRecord
    links: dict[str, str]  # zip, pdf, xlsx → path relative to the outbox; empty when the files are not there


PAST_SHOWN = 50  # past handovers listed, newest first


def _past(outbox: Path, history: list[HandoverRecord], district: str) -> list[PastHandover]:
    shown = [h for h in reversed(history) if not district or h.district == district][:PAST_SHOWN]
    listed = []
    for handover in shown:
        links = {"zip": handover.zip, "pdf": f"{handover.folder}/{HANDOVER_REGISTER}.pdf",
                 "xlsx": f"{handover.folder}/{HANDOVER_REGISTER}.xlsx"}
        inside = all(_readable(outbox, rel) for rel in links.values())  # a command-line one may be elsewhere
        listed.append(PastHandover(handover, links if inside else {}))
    return listed


def _handover_view(desk: Desk, district: str, everything: bool) -> dict[str, Any]:
    """The district's packages with their standing (by default only those not handed over or changed since) and
    their verdicts, and the past handovers. Reads and verifies files: run off the event loop."""
    all_packages = published(desk.outbox)
    districts = sorted({p.case.get("district") or "" for p in all_packages} - {""})
    history = past(desk.outbox)
    rows: list[tuple[Offer, list[Problem]]] = []
    hidden = 0
    if district in districts:
        found = standings(choose(all_packages, district, None), history)
        shown = found if everything else [o for o in found if o.offered]
        hidden = len(found) - len(shown)
        rows = list(zip(shown, desk.verified.check([o.package.folder for o in shown]), strict=True))
    return {"districts": districts, "district": district, "rows": rows, "hidden": hidden, "everything": everything,
            "past": _past(desk.outbox, history, district if district in districts else "")}


async def handover_page(request: Request) -> Response:
    district = request.query_params.get("district", "")
    view = await asyncio.to_thread(_handover_view, _desk(request), district, request.query_params.get("all") == "1")
    return page(request, "handover.html", done=None, **view)


def _make_handover(desk: Desk, district: str, cases: list[str], user: str) -> tuple[Handover, Path]:
    """The ticked packages, 待签章 ones included: ticking one is the clerk's explicit choice, and the register
    marks it 否（待签章）."""
    offers = standings(choose(published(desk.outbox), district, cases), past(desk.outbox))
    today = date.today()
    target = _unused(desk.outbox / HANDOVERS / f"{safe_name(district)}-{today.isoformat()}")
    return hand_over(desk.outbox, offers, district, target, today, allow_unsigned=True, by=user), target


@state_changing
async def handover_make(request: Request, form: FormData) -> Response:
    desk = _desk(request)
    user = _session(request).user or "-"
    district = str(form.get("district", ""))
    cases = [str(c) for c in form.getlist("cases")]
    if not cases:
        return problem(request, "没有选中任何案卷。请勾选要移交的案卷后再点“生成移交”。")
    try:
        result, target = await asyncio.to_thread(_make_handover, desk, district, cases, user)
    except KunnanError as exc:
        audit(desk.state, _user(request), "移交被拒", district=district, cases=cases, reason=str(exc))
        return problem(request, exc.for_people)
    audit(desk.state, user, "移交", district=district, folder=target.name, cases=[p.archive_no for p in result.packages])
    rel = target.relative_to(desk.outbox).as_posix()
    done = {"zip": f"{HANDOVERS}/{result.zip.name}", "pdf": f"{rel}/{HANDOVER_REGISTER}.pdf",
            "xlsx": f"{rel}/{HANDOVER_REGISTER}.xlsx", "offers": result.offers, "pages": result.pages}
    past_handovers = await asyncio.to_thread(lambda: _past(desk.outbox, past(desk.outbox), district))
    return page(request, "handover.html", districts=[], district=district, rows=[], hidden=0, everything=False,
                done=done, past=past_handovers)


def _readable(outbox: Path, rel: str) -> bool:
    """Whether the download route would serve this file (inside the outbox, no link on the way)."""
    handle = open_inside(outbox, rel)
    if handle is None:
        return False
    handle.close()
    return True


def _unused(path: Path) -> Path:
    n, candidate = 1, path
    while candidate.exists() or candidate.with_suffix(".zip").exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


# -- 进度 ----------------------------------------------------------------------------------------------

async def progress(request: Request) -> Response:
    as_of = _date(request.query_params.get("as_of"), date.today()) or date.today()
    progress = tally(_desk(request).outbox, as_of)
    return page(request, "progress.html", as_of=as_of, headers=PROGRESS_HEADERS,
                rows=[x.row() for x in progress.lines], other_headers=OTHER_HEADERS,
                others=[x.other_row() for x in progress.others], cancelled=progress.cancelled_line,
                folded=folded_note(progress.folded))


async def progress_svg(request: Request) -> Response:
    """The chart as an image of its own: its drawing styles stay out of the page, whose policy allows no inline
    style."""
    as_of = _date(request.query_params.get("as_of"), date.today()) or date.today()
    lines = tally(_desk(request).outbox, as_of).lines
    if not lines:
        return problem(request, "截至这一天还没有可画图的建档案卷。请换一个统计截止日期。", 404)
    return Response(renderSVG.drawToString(chart(lines)), media_type="image/svg+xml")


async def progress_pdf(request: Request) -> Response:
    as_of = _date(request.query_params.get("as_of"), date.today()) or date.today()
    pdf = report_pdf(tally(_desk(request).outbox, as_of), as_of)
    audit(_desk(request).state, _user(request), "下载", file=f"解困脱困进度-{as_of.isoformat()}.pdf")
    return Response(pdf, media_type="application/pdf", headers=_attachment(f"解困脱困进度-{as_of.isoformat()}.pdf"))


# -- 重复建档 ------------------------------------------------------------------------------------------

def duplicates_page(request: Request) -> Response:
    """Plain def: Starlette runs it in its thread pool, off the event loop, while it reads the outbox. Each later
    file links to its 注销 with the reason and the kept archive number filled in."""
    found = duplicates(_desk(request).outbox)
    cancel = {p.folder.name: f"/packages/{quote(p.folder.name)}/steps/cancellation?" + urlencode(
        {"/cancellation/reason": DUPLICATE_REASON, "/cancellation/duplicate_of": d.files[0].archive_no})
        for d in found for p in d.files[1:]}
    return page(request, "duplicates.html", found=found, cancel=cancel)


# -- 新建档案, 草稿, 登记, 更正 (the write path is web/casework.py; here only requests and pages) -------------

def editor_page(request: Request, case: dict[str, Any], action: str, heading: str, *, draft: Draft | None = None,
                package: str = "", reason: str | None = None,
                findings: list[Finding] | None = None, notes: list[str] | None = None, status_code: int = 200,
                message: str = "") -> HTMLResponse:
    """The editor on `case`: its fields grouped, each finding beside its field (those for the whole case on top).
    `package` is the folder of the package being corrected (its scans count in the live check)."""
    groups = editor_form(case)
    listed = attachments(case)
    places = pointers(groups) | {a.pointer for a in listed} | {"/attachments"}
    placed = place(findings or [], places)
    return page(request, "editor.html", status_code, groups=groups, attachments=listed, placed=placed,
                general=placed.get("", []), notes=notes or [], action=action, heading=heading, draft=draft,
                package=package, reason=reason, unknown=unknown_fields(case), message=message, ROW=ROW, DROP=DROP,
                where=draft.id if draft else "")


def draft_list(request: Request) -> Response:
    return page(request, "drafts.html", drafts=_desk(request).casework.drafts())


NEW_CASE = {"kind": "filing"}  # 新建档案 is a filing (建档); an exit is recorded on a filed family


def new_case(request: Request) -> Response:
    return editor_page(request, NEW_CASE, "/drafts/new", "新建档案")


def _draft(request: Request) -> Draft | None:
    return _desk(request).casework.draft(request.path_params["draft"])


def draft_editor(request: Request, draft: Draft, findings: list[Finding], status_code: int = 200,
                 message: str = "") -> HTMLResponse:
    heading = f"{draft.origin.label}:{draft.archive_no or '未填档案号'} {draft.worker_name}".strip()
    correction = draft.origin is Origin.CORRECTION
    return editor_page(request, draft.case, f"/drafts/{draft.id}", heading, draft=draft,
                       package=draft.source if correction else "", reason=draft.reason if correction else None,
                       findings=findings, notes=draft.notes, status_code=status_code, message=message)


def draft_page(request: Request) -> Response:
    draft = _draft(request)
    if draft is None:
        return problem(request, "没有这份草稿。它可能已经提交成卷或被删除了,请到“草稿”或“案卷”中查找。", 404)
    # once refused (or opened from 已退回), the case as it stands now is checked again: what is still to fix
    findings = _desk(request).casework.check(draft.case, draft.case_folder) if draft.findings else []
    return draft_editor(request, draft, findings)


@state_changing
async def new_case_save(request: Request, form: FormData) -> Response:
    casework = _desk(request).casework
    case = case_from_form(form.multi_items(), {})
    draft = await asyncio.to_thread(casework.create, case, _user(request))
    return await _save_or_submit(request, form, draft)


@state_changing
async def draft_save(request: Request, form: FormData) -> Response:
    draft = _draft(request)
    if draft is None:
        return problem(request, "没有这份草稿。它可能已经提交成卷或被删除了,请到“草稿”或“案卷”中查找。", 404)
    case = case_from_form(form.multi_items(), draft.case)
    reason = str(form.get("reason", "")) if draft.origin is Origin.CORRECTION else None
    draft = await asyncio.to_thread(_desk(request).casework.save, draft, case, _user(request), reason)
    return await _save_or_submit(request, form, draft)


async def _save_or_submit(request: Request, form: FormData, draft: Draft) -> Response:
    """After the draft is saved: stay in the editor (保存草稿), or build it; refused, back to the editor with the
    findings beside the fields (the draft kept); published, to the package's page."""
    if form.get("action") != "submit":
        return RedirectResponse(f"/drafts/{draft.id}?saved=1", status_code=303)
    try:
        done = await asyncio.to_thread(_desk(request).casework.submit, draft, _user(request))
    except KunnanError as exc:
        return draft_editor(request, draft, draft.findings, 400, exc.for_people)
    return _submitted(done)


def _submitted(done: Submission) -> Response:
    if done.draft is not None:
        return RedirectResponse(f"/drafts/{done.draft.id}?refused=1", status_code=303)
    assert done.folder is not None
    return RedirectResponse(f"/packages/{quote(done.folder.name)}?saved=1", status_code=303)


@state_changing
async def draft_delete(request: Request, form: FormData) -> Response:
    draft = _draft(request)
    if draft is not None:
        await asyncio.to_thread(_desk(request).casework.discard, draft, _user(request))
    return RedirectResponse("/drafts", status_code=303)


@state_changing
async def check(request: Request, form: FormData) -> Response:
    """The editor's live check: the findings of the form as typed, by pointer, in plain Chinese (no codes)."""
    found = await asyncio.to_thread(_check, _desk(request).casework, form)
    return JSONResponse({"findings": [{"pointer": f.pointer, "severity": f.severity.value, "message": f.message}
                                      for f in found]})


def _check(casework: Casework, form: FormData) -> list[Finding]:
    """The form as the case it stands for, checked with its scans (a draft's, or the package's being corrected)."""
    where, package = str(form.get("where", "")), str(form.get("package", ""))
    draft = casework.draft(where) if where else None
    base, folder = (draft.case, draft.case_folder) if draft else ({}, None)
    if package and draft is None:
        with contextlib.suppress(KunnanError):  # gone meanwhile: checked without its scans
            base, folder = casework.current(package)
    return casework.check(case_from_form(form.multi_items(), base), folder)


def _package_or_problem(request: Request) -> Published | Response:
    pkg = package_in(_desk(request).outbox, request.path_params["folder"])
    if pkg is None:
        return problem(request, "发件夹中没有这个案卷。它可能已被重新成卷或移走,请回到案卷列表查找。", 404)
    return pkg


def _record_spec(request: Request, pkg: Published) -> dict[str, Any] | None:
    return next((r for r in records(pkg.kind) if r["id"] == request.path_params["record"]), None)


def record_page(request: Request) -> Response:
    pkg = _package_or_problem(request)
    if not isinstance(pkg, Published):
        return pkg
    spec = _record_spec(request, pkg)
    if spec is None:
        return problem(request, "这份案卷没有这种登记。请回到案卷页,从“登记”按钮进入。", 404)
    return page(request, "record.html", pkg=pkg, spec=spec, fields=record_form(spec["pointer"]), placed={},
                ROW=ROW, message="")


@state_changing
async def record_save(request: Request, form: FormData) -> Response:
    pkg = _package_or_problem(request)
    if not isinstance(pkg, Published):
        return pkg
    spec = _record_spec(request, pkg)
    if spec is None:
        return problem(request, "这份案卷没有这种登记。请回到案卷页,从“登记”按钮进入。", 404)
    found: Any = parse_form(form.multi_items())
    for part in spec["pointer"].strip("/").split("/"):
        found = found.get(part, {}) if isinstance(found, dict) else {}
    item = found[0] if isinstance(found, list) and found else {}
    try:
        done = await asyncio.to_thread(_desk(request).casework.record, pkg.folder.name, spec["id"], item,
                                       _user(request))
    except KunnanError as exc:
        return page(request, "record.html", 400, pkg=pkg, spec=spec, fields=record_form(spec["pointer"]), placed={},
                    ROW=ROW, message=exc.for_people)
    return _submitted(done)


# -- 办理 (exit stage by stage, 注销), 上传扫描件, 手填原件入卷 ----------------------------------------------------

def _step_or_problem(request: Request, pkg: Published) -> tuple[Step, dict[str, Any]] | Response:
    """The step asked for, if the family's current case offers it now, with that case."""
    try:
        case = _desk(request).casework.current(pkg.folder.name)[0]
    except KunnanError as exc:
        return problem(request, exc.for_people)
    step = next((s for s in offered(case) if s.id == request.path_params["step"]), None)
    if step is None:
        wanted = step_by_id(request.path_params["step"])
        return problem(request, f"这份案卷现在不能办理“{wanted.title if wanted else '这一步'}”:脱困要按通知规定的次序一步一步办理,"
                                "注销只用于在档的档案。请回到案卷页,用那里列出的按钮办理下一步。", 404)
    return step, case


def _step_item(step: Step, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """What a step's form (or a link's query) says of the step's object, typed by the schema."""
    found: Any = parse_form(pairs)
    for part in step.pointer.strip("/").split("/"):
        found = found.get(part, {}) if isinstance(found, dict) else {}
    if step.many:
        found = found[0] if isinstance(found, list) and found else {}
    return found if isinstance(found, dict) else {}


def step_view(request: Request, pkg: Published, step: Step, case: dict[str, Any], item: dict[str, Any],
              findings: list[Finding] | None = None, message: str = "", status_code: int = 200) -> HTMLResponse:
    """The step's form, each finding of the rules beside its field; errors the form has no field for on top (warnings
    elsewhere in the file are not this step's business)."""
    fields = form_fields(step, case, item, prefilled=findings is None and not message)
    places = pointers(fields)
    mine = [f for f in findings or [] if f.severity is Severity.ERROR or f.pointer.startswith(step.pointer)]
    placed = place(mine, places)
    dropped = with_step(case, step, {})[1]
    spec = {i.id: i for i in kind_spec(str(case.get("kind"))).items}
    taken = list(dict.fromkeys(f"第{spec[a['item']].no}项 {spec[a['item']].title}" for a in dropped if a.get("item") in spec))
    return page(request, "step.html", status_code, pkg=pkg, step=step, fields=fields, placed=placed,
                general=placed.get("", []), dropped=taken, message=message, ROW=ROW)


def step_page(request: Request) -> Response:
    """A step's form; a link may fill some of its fields (the 重复建档 page: reason and the kept archive number)."""
    pkg = _package_or_problem(request)
    if not isinstance(pkg, Published):
        return pkg
    found = _step_or_problem(request, pkg)
    if isinstance(found, Response):
        return found
    step, case = found
    return step_view(request, pkg, step, case, _step_item(step, list(request.query_params.multi_items())))


@state_changing
async def step_save(request: Request, form: FormData) -> Response:
    pkg = _package_or_problem(request)
    if not isinstance(pkg, Published):
        return pkg
    found = _step_or_problem(request, pkg)
    if isinstance(found, Response):
        return found
    step, case = found
    item = _step_item(step, [(k, v) for k, v in form.multi_items() if isinstance(v, str)])
    try:
        done = await asyncio.to_thread(_desk(request).casework.step, pkg.folder.name, step.id, item, _user(request))
    except KunnanError as exc:
        return step_view(request, pkg, step, case, item, message=exc.for_people, status_code=400)
    if done.findings:
        return step_view(request, pkg, step, case, item, done.findings,
                         "没有保存:请按各项下面的红字改正后再保存。", 400)
    return _submitted(done)


def _uploads(form: FormData) -> tuple[list[UploadFile], list[str]]:
    """The files chosen (a file input left empty sends one nameless, empty part) and the items chosen per file."""
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and (f.filename or f.size)]
    return files, [str(v) for v in form.getlist("item")]


@state_changing
async def upload(request: Request, form: FormData) -> Response:
    """上传扫描件: each file with its checklist item (chosen per file by the page's script, or one for all without
    it)."""
    pkg = _package_or_problem(request)
    if not isinstance(pkg, Published):
        return pkg
    files, items = _uploads(form)
    if len(items) != len(files):
        items = [str(form.get("item-all", ""))] * len(files)
    chosen = [Upload(item, f.filename or "", f.file) for item, f in zip(items, files, strict=True)]
    try:
        done = await asyncio.to_thread(_desk(request).casework.upload, pkg.folder.name, chosen, _user(request))
    except KunnanError as exc:
        return problem(request, exc.for_people, back=f"/packages/{quote(pkg.folder.name)}")
    return _submitted(done)


@state_changing
async def hand_filled(request: Request, form: FormData) -> Response:
    """手填原件入卷: the form chosen, its scanned pages."""
    pkg = _package_or_problem(request)
    if not isinstance(pkg, Published):
        return pkg
    files, _ = _uploads(form)
    chosen = [Upload("", f.filename or "", f.file) for f in files]
    try:
        done = await asyncio.to_thread(_desk(request).casework.hand_filled, pkg.folder.name, str(form.get("form", "")),
                                       chosen, _user(request))
    except KunnanError as exc:
        return problem(request, exc.for_people, back=f"/packages/{quote(pkg.folder.name)}")
    return _submitted(done)


def correct_page(request: Request) -> Response:
    desk = _desk(request)
    pkg = _package_or_problem(request)
    if not isinstance(pkg, Published):
        return pkg
    try:
        case, _ = desk.casework.current(pkg.folder.name)
    except KunnanError as exc:
        return problem(request, exc.for_people)
    return editor_page(request, case, f"/packages/{quote(pkg.folder.name)}/correct", f"更正:{pkg.archive_no}",
                       package=pkg.folder.name, reason="")


@state_changing
async def correct_save(request: Request, form: FormData) -> Response:
    """A correction starts as a draft of the package's case as edited, with its reason; then as any draft."""
    desk = _desk(request)
    pkg = _package_or_problem(request)
    if not isinstance(pkg, Published):
        return pkg
    try:
        current, _ = desk.casework.current(pkg.folder.name)
    except KunnanError as exc:
        return problem(request, exc.for_people)
    case = case_from_form(form.multi_items(), current)
    draft = await asyncio.to_thread(desk.casework.from_package, pkg.folder.name, _user(request), Origin.CORRECTION,
                                    case, reason=str(form.get("reason", "")))
    return await _save_or_submit(request, form, draft)


@state_changing
async def open_rejected(request: Request, form: FormData) -> Response:
    """收件箱 已退回 → the editor, on a copy (rejected/ keeps the input)."""
    try:
        draft = await asyncio.to_thread(_desk(request).casework.from_rejected, int(request.path_params["row"]),
                                        _user(request))
    except KunnanError as exc:
        return problem(request, exc.for_people, 404)
    return RedirectResponse(f"/drafts/{draft.id}", status_code=303)


# -- 扫描入卷, 待核对, 已核对 (web/review.py) --------------------------------------------------------------------

FORM_CHOICES = ["annex3", "annex4", "annex5", "annex6", *(f"annex7-{n}" for n in range(1, 7)), "cancel"]


def scan_page(request: Request) -> Response:
    return page(request, "scan.html", result=None, waiting=len(_desk(request).scandesk.pages()), max_files=MAX_FILES,
                max_file=MAX_FILE >> 20, max_body=UPLOAD_BODY >> 20)


@state_changing
async def scan_upload(request: Request, form: FormData) -> Response:
    """扫描入卷: the scanner files, filed by their codes as scan-in files them; the page says what went where."""
    desk = _desk(request)
    files, _ = _uploads(form)
    chosen = [Upload("", f.filename or "", f.file) for f in files]
    try:
        result = await asyncio.to_thread(desk.scandesk.scan_in, chosen, _user(request))
    except KunnanError as exc:
        return problem(request, exc.for_people)
    return page(request, "scan.html", result=result, waiting=len(desk.scandesk.pages()), max_files=MAX_FILES,
                max_file=MAX_FILE >> 20, max_body=UPLOAD_BODY >> 20)


def review_page(request: Request, done: list[str] | None = None, message: str = "", status_code: int = 200) -> Response:
    """Every page waiting in 待核对, with its reasons, its image and its three actions."""
    desk = _desk(request)
    listing = sorted((p.archive_no for p in survey(desk.outbox)[0]), key=str)
    forms = [(key, qr_label(key)) for key in FORM_CHOICES]
    return page(request, "review.html", status_code, pages=desk.scandesk.pages(), archives=listing, forms=forms,
                done=done or [], message=message)


def review_image(request: Request) -> Response:
    try:
        png = _desk(request).scandesk.image(request.path_params["folder"], request.path_params["page"])
    except KunnanError as exc:
        return problem(request, exc.for_people, 404)
    return Response(png, media_type="image/png")


@state_changing
async def review_act(request: Request, form: FormData) -> Response:
    """指定案卷 / 空白页 / 作废 on one page of 待核对; the page again, saying what was done."""
    desk, user = _desk(request), _user(request)
    folder, index, action = request.path_params["folder"], request.path_params["page"], request.path_params["action"]
    try:
        if action == "assign":
            number = str(form.get("form_page", "1")).strip()
            done = await asyncio.to_thread(desk.scandesk.assign, folder, index, str(form.get("archive_no", "")).strip(),
                                           str(form.get("form", "")), int(number) if number.isdigit() else 0, user)
        elif action == "blank":
            done = await asyncio.to_thread(desk.scandesk.blank, folder, index, user)
        elif action == "discard":
            done = await asyncio.to_thread(desk.scandesk.discard, folder, index, str(form.get("reason", "")), user)
        else:
            return problem(request, ERRORS[404], 404)
    except KunnanError as exc:
        return review_page(request, message=exc.for_people, status_code=400)
    return review_page(request, done.lines)


@state_changing
async def confirm_note(request: Request, form: FormData) -> Response:
    """已核对: one 请核对 note of a package, who and when; back to the package's page."""
    pkg = _package_or_problem(request)
    if not isinstance(pkg, Published):
        return pkg
    try:
        await asyncio.to_thread(_desk(request).scandesk.confirm, pkg, request.path_params["note"], _user(request))
    except KunnanError as exc:
        return problem(request, exc.for_people, back=f"/packages/{quote(pkg.folder.name)}")
    return RedirectResponse(f"/packages/{quote(pkg.folder.name)}#notes", status_code=303)
# -- 导入Excel: the template, an uploaded workbook's preview, its confirmation (web/workbooks.py) -----------------

def _workbooks(request: Request) -> Workbooks:
    return Workbooks(_desk(request).casework)


async def workbooks_page(request: Request) -> Response:
    pending = await asyncio.to_thread(_workbooks(request).pending)
    return page(request, "workbooks.html", pending=pending, max_book=MAX_BOOK >> 20)


async def workbook_template(request: Request) -> Response:
    """The blank template, made afresh (it follows the schema and the checklists); nothing of a case is in it."""
    from kunnan_docs.staff.xlsx_import import write_template
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "book.xlsx"
        await asyncio.to_thread(write_template, path)
        data = path.read_bytes()
    return Response(data, media_type=_media_type("x.xlsx"), headers=_attachment("案卷导入模板.xlsx"))


@state_changing
async def workbook_upload(request: Request, form: FormData) -> Response:
    book = form.get("book")
    if not isinstance(book, UploadFile) or not (book.filename or book.size):
        return problem(request, "没有选择工作簿。请选择填好的 Excel 工作簿(.xlsx)后再点“上传并预览”。", back="/workbooks")
    try:
        pending, _ = await asyncio.to_thread(_workbooks(request).receive, book.filename or "", book.file,
                                             _user(request))
    except KunnanError as exc:
        return problem(request, exc.for_people, back="/workbooks")
    return RedirectResponse(f"/workbooks/{pending.id}", status_code=303)


def _pending_or_problem(request: Request) -> Pending | Response:
    pending = _workbooks(request).get(request.path_params["book"])
    if pending is None:
        return problem(request, "这个工作簿已经导入或取消了(或上传已超过一天,已过期)。请到“导入Excel”页重新上传。", 404,
                       back="/workbooks")
    return pending


async def workbook_page(request: Request) -> Response:
    pending = _pending_or_problem(request)
    if not isinstance(pending, Pending):
        return pending
    try:
        found = await asyncio.to_thread(_workbooks(request).preview, pending)
    except KunnanError as exc:
        return problem(request, exc.for_people, back="/workbooks")
    return page(request, "workbook.html", pending=pending, preview=found)


@state_changing
async def workbook_confirm(request: Request, form: FormData) -> Response:
    pending = _pending_or_problem(request)
    if not isinstance(pending, Pending):
        return pending
    chosen = {str(v) for v in form.getlist("cases")}
    if not chosen:
        return problem(request, "没有勾选要导入的户。请在预览中勾选后再点“导入所选”。", back=f"/workbooks/{pending.id}")
    try:
        done = await asyncio.to_thread(_workbooks(request).confirm, pending, chosen, _user(request))
    except KunnanError as exc:
        return problem(request, exc.for_people, back="/workbooks")
    return page(request, "workbook_done.html", pending=pending, done=done)


@state_changing
async def workbook_cancel(request: Request, form: FormData) -> Response:
    pending = _pending_or_problem(request)
    if isinstance(pending, Pending):
        await asyncio.to_thread(_workbooks(request).cancel, pending, _user(request))
    return RedirectResponse("/workbooks", status_code=303)


async def home(request: Request) -> Response:
    return RedirectResponse("/inbox", status_code=303)


def create_app(desk: Desk) -> Starlette:
    routes = [
        Route("/", home), Route("/login", login_page), Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/inbox", inbox), Route("/inbox/live", inbox_live),
        Route("/packages", packages), Route("/packages/{folder}", package),
        Route("/packages/{folder}/zip", package_zip),
        Route("/files/{rel:path}", download),
        Route("/due", due), Route("/due.xlsx", due_xlsx),
        Route("/notices", notices_page), Route("/notices", notices_print, methods=["POST"]),
        Route("/handover", handover_page), Route("/handover", handover_make, methods=["POST"]),
        Route("/progress", progress), Route("/progress.svg", progress_svg), Route("/progress.pdf", progress_pdf),
        Route("/duplicates", duplicates_page),
        Route("/drafts", draft_list), Route("/drafts/new", new_case), Route("/drafts/new", new_case_save, methods=["POST"]),
        Route("/drafts/{draft}", draft_page), Route("/drafts/{draft}", draft_save, methods=["POST"]),
        Route("/drafts/{draft}/delete", draft_delete, methods=["POST"]), Route("/check", check, methods=["POST"]),
        Route("/packages/{folder}/record/{record}", record_page),
        Route("/packages/{folder}/record/{record}", record_save, methods=["POST"]),
        Route("/packages/{folder}/steps/{step}", step_page),
        Route("/packages/{folder}/steps/{step}", step_save, methods=["POST"]),
        Route("/packages/{folder}/upload", upload, methods=["POST"]),
        Route("/packages/{folder}/hand-filled", hand_filled, methods=["POST"]),
        Route("/packages/{folder}/correct", correct_page),
        Route("/packages/{folder}/correct", correct_save, methods=["POST"]),
        Route("/inbox/rejected/{row:int}/open", open_rejected, methods=["POST"]),
        # 扫描入卷, 待核对, 已核对 (web/review.py)
        Route("/scan", scan_page), Route("/scan", scan_upload, methods=["POST"]), Route("/review", review_page),
        Route("/review/{folder}/{page:int}.png", review_image),
        Route("/review/{folder}/{page:int}/{action:str}", review_act, methods=["POST"]),
        Route("/packages/{folder}/notes/{note:int}/confirm", confirm_note, methods=["POST"]),
        # 导入Excel
        Route("/workbooks", workbooks_page), Route("/workbooks", workbook_upload, methods=["POST"]),
        Route("/workbooks/template.xlsx", workbook_template), Route("/workbooks/{book}", workbook_page),
        Route("/workbooks/{book}/confirm", workbook_confirm, methods=["POST"]),
        Route("/workbooks/{book}/cancel", workbook_cancel, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [Middleware(HostGate), Middleware(BodyLimit), Middleware(SessionGate)]
    handlers = {HTTPException: http_error, Exception: server_error}
    app = DeskApp(routes=routes, middleware=middleware, exception_handlers=handlers)
    app.state.desk = desk
    return app
