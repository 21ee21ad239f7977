"""What every console page shares: templates, sessions, CSRF, forms, language, flashes.

A page handler gets a :class:`Page` (the request, the platform, the signed-in session,
the language, the form of a POST already checked against the session's CSRF token) and
returns a response. A service's refusal (``ValueError``, ``LookupError``, or one of
:mod:`duanxin.service.errors`) comes back to the page it was posted from as a flash
message.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from duanxin.api.gateway import client_ip
from duanxin.console.i18n import LANGUAGES, translate
from duanxin.domain.accounts import ip_in_networks
from duanxin.domain.signin import Realm
from duanxin.domain.status import StatusError
from duanxin.service import console_auth
from duanxin.service.console_auth import ConsoleSession
from duanxin.service.errors import AdminError
from duanxin.service.platform import Platform

__all__ = [
    "COOKIES",
    "Page",
    "Upload",
    "customer_page",
    "operator_page",
    "public_page",
    "redirect",
    "render",
]

HERE = Path(__file__).parent
COOKIES = {Realm.OPERATOR: "dx_operator", Realm.CUSTOMER: "dx_customer"}
LANG_COOKIE = "dx_lang"
FLASH_COOKIE = "dx_flash"
PRE_CSRF_COOKIE = "dx_signin"  # the sign-in form's CSRF token, before there is a session
COOKIE_PATH = "/console"
SIGN_IN = {Realm.OPERATOR: "/console/login", Realm.CUSTOMER: "/console/my/login"}
MAX_FORM_FIELDS = 200
MAX_UPLOAD_BYTES = 16 * 1024 * 1024
MAX_FIELD_CHARS = 64 * 1024
FLASH_CHARS = 300
YEAR_SECONDS = 365 * 24 * 3600

environment = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _format_time(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def _format_rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


environment.filters["time"] = _format_time
environment.filters["percent"] = _format_rate


@dataclass(frozen=True, slots=True)
class Upload:
    name: str
    content: bytes


@dataclass
class Page:
    request: Request
    platform: Platform
    lang: str
    session: ConsoleSession | None = None
    form: dict[str, str] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)
    #: Cookies to set on whatever response the handler returns (name -> value, None: clear).
    cookies: dict[str, str | None] = field(default_factory=dict)

    @property
    def actor(self) -> str:
        assert self.session is not None
        return self.session.subject

    def t(self, key: str, **values: Any) -> str:
        return translate(self.lang, key, **values)

    def field(self, name: str, default: str = "") -> str:
        return self.form.get(name, default).strip()

    def query(self, name: str) -> str:
        return self.request.query_params.get(name, "").strip()

    @property
    def address(self) -> str:
        return client_ip(self.request, self.platform.settings.trusted_proxies) or "-"


Handler = Callable[[Page], Awaitable[Response]]


def _lang(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    accept = request.headers.get("accept-language", "").lower()
    return "zh" if accept.startswith("zh") else "en"


def _secure(page: Page) -> bool:
    """Served over TLS: by this process, or by a trusted proxy that says so."""
    request = page.request
    if request.url.scheme == "https":
        return True
    peer = request.client.host if request.client else None
    proxies = page.platform.settings.trusted_proxies
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return forwarded == "https" and peer is not None and ip_in_networks(peer, proxies)


def set_cookie(page: Page, response: Response, name: str, value: str | None) -> None:
    if value is None:
        response.delete_cookie(name, path=COOKIE_PATH)
        return
    response.set_cookie(
        name,
        value,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict" if name == LANG_COOKIE else "lax",
        secure=_secure(page),
        max_age=YEAR_SECONDS if name == LANG_COOKIE else None,
    )


def _finish(page: Page, response: Response) -> Response:
    for name, value in page.cookies.items():
        set_cookie(page, response, name, value)
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'",
    )
    return response


def render(page: Page, template: str, status: int = 200, **context: Any) -> Response:
    """The template with the page's language, session, CSRF token and flash message."""
    flash = page.request.cookies.get(FLASH_COOKIE)
    if flash is not None:
        page.cookies.setdefault(FLASH_COOKIE, None)
    kind, _, text = unquote(flash or "").partition(":")
    csrf = page.session.csrf if page.session else _pre_csrf(page)
    body = environment.get_template(template).render(
        t=page.t,
        lang=page.lang,
        session=page.session,
        csrf=csrf,
        flash=text[:FLASH_CHARS] if text else None,
        flash_kind=kind,
        path=page.request.url.path,
        query=page.request.url.query,
        **context,
    )
    return _finish(page, HTMLResponse(body, status_code=status))


def _pre_csrf(page: Page) -> str:
    token = page.request.cookies.get(PRE_CSRF_COOKIE) or page.cookies.get(PRE_CSRF_COOKIE)
    if not token:
        token = secrets.token_urlsafe(24)
        page.cookies[PRE_CSRF_COOKIE] = token
    return token


def redirect(page: Page, url: str, flash: str | None = None, *, error: bool = False) -> Response:
    """303 to ``url`` (a console path), with a message for the page there."""
    if flash:
        page.cookies[FLASH_COOKIE] = quote(("error:" if error else "ok:") + flash[:FLASH_CHARS])
    return _finish(page, RedirectResponse(url, status_code=303))


def local_path(raw: str, default: str) -> str:
    """A path inside the console to go back to (never another site)."""
    if raw.startswith("/console") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return default


async def _read_form(page: Page) -> None:
    form = await page.request.form(
        max_files=4, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_UPLOAD_BYTES
    )
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            content = await value.read(MAX_UPLOAD_BYTES + 1)
            if len(content) > MAX_UPLOAD_BYTES:
                raise ValueError(page.t("error.file_too_large"))
            if value.filename:
                page.uploads[name] = Upload(value.filename, content)
        elif name in page.form:
            page.form[name] += "," + value[:MAX_FIELD_CHARS]
        else:
            page.form[name] = value[:MAX_FIELD_CHARS]
    await form.close()


def _back(page: Page, realm: Realm | None) -> str:
    """Where a form goes back to: the page it names, else the page it came from."""
    referer = urlsplit(page.request.headers.get("referer", ""))
    came_from = referer.path + ("?" + referer.query if referer.query else "")
    home = "/console/my/" if realm is Realm.CUSTOMER else "/console/"
    return local_path(page.form.get("back", ""), local_path(came_from, home))


def _refused(page: Page, status: int, message: str) -> Response:
    return render(page, "error.html", status=status, message=message)


def _page(realm: Realm | None, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        page = Page(request, request.app.state.platform, _lang(request))
        if realm is not None:
            token = request.cookies.get(COOKIES[realm])
            page.session = await console_auth.session_for(page.platform, realm, token)
            if page.session is None:
                target = quote(
                    request.url.path + ("?" + request.url.query if request.url.query else "")
                )
                return redirect(page, f"{SIGN_IN[realm]}?next={target}")
        if request.method == "POST":
            try:
                await _read_form(page)
            except ValueError as error:
                return _refused(page, 400, str(error))
            expected = page.session.csrf if page.session else request.cookies.get(PRE_CSRF_COOKIE)
            given = page.form.get("csrf")
            if not expected or not given or not secrets.compare_digest(expected, given):
                return _refused(page, 403, page.t("error.csrf"))
        try:
            return await handler(page)
        except (ValueError, LookupError, AdminError, StatusError) as error:
            message = str(error).strip("'\"")
            if request.method != "POST":
                return _refused(page, 404 if isinstance(error, LookupError) else 400, message)
            return redirect(page, _back(page, realm), message, error=True)

    return endpoint


def operator_page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A page only a signed-in operator sees."""
    return _page(Realm.OPERATOR, handler)


def customer_page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A page only a signed-in customer sees (its own account's data only)."""
    return _page(Realm.CUSTOMER, handler)


def public_page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A page without a session (sign-in, language); its forms use the sign-in CSRF token."""
    return _page(None, handler)


def options(values: Mapping[str, str]) -> list[tuple[str, str]]:
    return list(values.items())
