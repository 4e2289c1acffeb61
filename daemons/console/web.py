"""The console's web server (aiohttp): login, the page, live updates by server-sent events, the
managers' actions, the LED screen pictures and the day's report as CSV or a printable page.

Everything that leaves for a browser goes through `_send_text`/`_json_response`, which mask any
full ID number (daemons/console/privacy.py). Actions need a session cookie (HttpOnly,
SameSite=Strict), the session's CSRF token in `X-CSRF-Token` and, when the browser sends one, an
Origin of this very server.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from daemons.console import report_export
from daemons.console.actions import ActionError, ManagerActions
from daemons.console.auth import Accounts, LoginRefused, Session
from daemons.console.hall_view import SECTIONS, HallView, section_json
from daemons.console.privacy import scrub_text
from daemons.console.screens import geometry, png_of

log = logging.getLogger("hall.console.web")

COOKIE = "hall_console"
KEEPALIVE_S = 15.0
STATIC = resources.files("daemons.console") / "static"
SESSION_KEY = web.RequestKey("session", Session)
CONTENT_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                  "connect-src 'self'; frame-ancestors 'none'; form-action 'self'")


def _static_text(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def _json_response(data: Any, status: int = 200) -> web.Response:
    text = scrub_text(json.dumps(data, ensure_ascii=False))
    return web.Response(text=text, status=status, content_type="application/json")


class Broadcaster:
    """One queue per connected browser; sections are pushed from the bus thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.clients: set[asyncio.Queue[str]] = set()

    def push(self, text: str) -> None:
        """Any thread: hand a section to every connected browser."""
        if self.loop.is_closed():
            return  # the server has stopped; the bus may still deliver for a moment
        self.loop.call_soon_threadsafe(self._fan_out, text)

    def _fan_out(self, text: str) -> None:
        for client in list(self.clients):
            if client.qsize() > 500:  # a browser that stopped reading; it reconnects and resyncs
                self.clients.discard(client)
                continue
            client.put_nowait(text)


class ConsoleWeb:
    def __init__(self, view: HallView, accounts: Accounts, actions: ManagerActions) -> None:
        self.view = view
        self.accounts = accounts
        self.actions = actions
        self.broadcaster: Broadcaster | None = None

    def on_change(self, section: str) -> None:
        if self.broadcaster is not None:
            self.broadcaster.push(section_json(self.view, section))

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth_middleware], client_max_size=64 * 1024)
        app.router.add_get("/login", self._login_page)
        app.router.add_post("/login", self._login)
        app.router.add_post("/logout", self._logout)
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/favicon.ico", self._no_icon)
        app.router.add_get("/api/stream", self._stream)
        app.router.add_get("/api/section/{name}", self._section)
        app.router.add_post("/api/action/{name}", self._action)
        app.router.add_get("/screens/{line}/{device}.png", self._screen)
        app.router.add_get("/report.csv", self._report_csv)
        app.router.add_get("/report/print", self._report_print)
        app.on_startup.append(self._on_startup)
        return app

    async def _on_startup(self, _app: web.Application) -> None:
        self.broadcaster = Broadcaster(asyncio.get_running_loop())

    # --- authentication --------------------------------------------------------------------------

    @web.middleware
    async def _auth_middleware(
        self, request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        public = request.path in ("/login", "/favicon.ico", "/static/console.css")
        session = self.accounts.session(request.cookies.get(COOKIE))
        if session is None and not public:
            if request.path.startswith("/api/") or request.method != "GET":
                return _json_response({"error": "请先登录 / please log in"}, 401)
            raise web.HTTPFound("/login")
        if session is not None:
            request[SESSION_KEY] = session
        if request.method == "POST" and not self._same_origin(request):
            return _json_response({"error": "来源不符 / cross-site request refused"}, 403)
        response = await handler(request)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # Only this server's own files run or load: text from the bus can never become script.
        response.headers.setdefault("Content-Security-Policy", CONTENT_POLICY)
        # Not no-referrer: with it the browser sends `Origin: null`, which the check above refuses.
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @staticmethod
    def _same_origin(request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        return origin is None or origin in (f"http://{request.host}", f"https://{request.host}")

    async def _login_page(self, request: web.Request) -> web.Response:
        page = _static_text("login.html").replace("{{hall}}", self.view.site.name_zh)
        return web.Response(text=page, content_type="text/html")

    async def _login(self, request: web.Request) -> web.Response:
        form = await request.post()
        login, password = str(form.get("login", "")), str(form.get("password", ""))
        remote = request.remote or "?"
        try:
            session = await asyncio.get_running_loop().run_in_executor(
                None, self.accounts.log_in, login, password, remote)
        except LoginRefused as exc:
            # What was typed as the login may be anything, an ID number too: masked in the log.
            log.warning("控制台登录失败 / console login refused for %r from %s",
                        scrub_text(login[:32]), remote)
            page = _static_text("login.html").replace("{{hall}}", self.view.site.name_zh)
            page = page.replace("<!--error-->", f'<p class="error" role="alert">{exc}</p>')
            status = 429 if exc.retry_after_s else 401
            return web.Response(text=page, status=status, content_type="text/html")
        log.info("值班长登录 / manager %s logged in from %s", session.login, remote)
        response = web.HTTPFound("/")
        response.set_cookie(COOKIE, session.token, httponly=True, samesite="Strict", path="/")
        raise response

    async def _logout(self, request: web.Request) -> web.Response:
        self.accounts.log_out(request.cookies.get(COOKIE))
        response = web.HTTPFound("/login")
        response.del_cookie(COOKIE, path="/")
        raise response

    # --- the page and its live data --------------------------------------------------------------

    async def _index(self, request: web.Request) -> web.Response:
        session = request[SESSION_KEY]
        page = (_static_text("index.html")
                .replace("{{csrf}}", session.csrf)
                .replace("{{manager}}", scrub_text(session.name))
                .replace("{{login}}", session.login)
                .replace("{{hall}}", scrub_text(self.view.site.name_zh)))
        return web.Response(text=page, content_type="text/html")

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        types = {".js": "text/javascript", ".css": "text/css"}
        kind = next((t for ext, t in types.items() if name.endswith(ext)), None)
        if kind is None or "/" in name or not (STATIC / name).is_file():
            raise web.HTTPNotFound()
        return web.Response(text=_static_text(name), content_type=kind)

    async def _no_icon(self, request: web.Request) -> web.Response:
        return web.Response(status=204)  # browsers ask for it; a 404 would be logged as an error

    async def _section(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in SECTIONS:
            raise web.HTTPNotFound()
        return _json_response(self.view.section(name))

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        assert self.broadcaster is not None
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-store",
            "X-Accel-Buffering": "no"})
        await response.prepare(request)
        client: asyncio.Queue[str] = asyncio.Queue()
        self.broadcaster.clients.add(client)
        try:
            for name in SECTIONS:
                await self._send_text(response, section_json(self.view, name))
            while True:
                try:
                    text = await asyncio.wait_for(client.get(), KEEPALIVE_S)
                except TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                await self._send_text(response, text)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.broadcaster.clients.discard(client)
        return response

    @staticmethod
    async def _send_text(response: web.StreamResponse, text: str) -> None:
        await response.write(f"data: {scrub_text(text)}\n\n".encode())

    # --- actions ---------------------------------------------------------------------------------

    async def _action(self, request: web.Request) -> web.Response:
        session = request[SESSION_KEY]
        if request.headers.get("X-CSRF-Token") != session.csrf:
            return _json_response({"error": "页面已过期，请刷新 / stale page, reload it"}, 403)
        try:
            fields = await request.json()
            if not isinstance(fields, dict):
                raise ValueError("not an object")
        except ValueError:
            return _json_response({"error": "请求格式错误 / malformed request"}, 400)
        name = request.match_info["name"]
        try:
            result = await asyncio.get_running_loop().run_in_executor(
                None, self.actions.run, name, fields, session.login)
        except ActionError as exc:
            return _json_response({"error": str(exc)}, exc.status)
        return _json_response({"ok": True, "data": result})

    # --- pictures and the report -----------------------------------------------------------------

    async def _screen(self, request: web.Request) -> web.Response:
        key = f"{request.match_info['line']}/{request.match_info['device']}"
        screen = next((s for s in self.view.section("screens") if s["key"] == key), None)
        if screen is None:
            raise web.HTTPNotFound()
        lines = tuple(screen["lines"])
        columns, rows = geometry(self.view.site, screen["line_id"], screen["device_id"], lines)
        png = await asyncio.get_running_loop().run_in_executor(None, png_of, lines, columns, rows)
        return web.Response(body=png, content_type="image/png")

    async def _fresh_report(self) -> dict[str, Any]:
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.actions.refresh_report)
        except ActionError as exc:
            log.warning("报表未能更新 / report not refreshed: %s", exc)
        report: dict[str, Any] | None = self.view.section("report")
        if report is None:
            raise web.HTTPServiceUnavailable(
                text="排队引擎未应答 / the queue engine did not answer")
        return report

    async def _report_csv(self, request: web.Request) -> web.Response:
        report = await self._fresh_report()
        text = scrub_text(report_export.csv_text(report, self.view.section("hall")))
        day = report["business_day"]
        return web.Response(
            body=("\ufeff" + text).encode("utf-8"),  # BOM: spreadsheet programs read it as UTF-8
            content_type="text/csv", charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="hall-report-{day}.csv"'})

    async def _report_print(self, request: web.Request) -> web.Response:
        report = await self._fresh_report()
        page = report_export.printable_html(report, self.view.section("hall"))
        return web.Response(text=scrub_text(page), content_type="text/html")
