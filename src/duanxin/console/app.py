"""The console's routes, mounted under ``/console`` in the platform's ASGI app: sign-in and
sign-out of both realms, the language switch, static files, the operator's and the
customer's pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from duanxin.console.customer import customer_routes
from duanxin.console.i18n import LANGUAGES
from duanxin.console.operator import operator_routes
from duanxin.console.web import (
    COOKIES,
    HERE,
    LANG_COOKIE,
    SIGN_IN,
    Page,
    customer_page,
    local_path,
    operator_page,
    public_page,
    redirect,
    render,
)
from duanxin.domain.signin import Realm, SignInRefusal
from duanxin.service import console_auth

__all__ = ["CONSOLE_PATH", "console_routes"]

CONSOLE_PATH = "/console"
HOME = {Realm.OPERATOR: "/console/", Realm.CUSTOMER: "/console/my/"}


def _login(page: Page, realm: Realm, refused: str | None = None, status: int = 200) -> Response:
    return render(
        page,
        "login.html",
        status=status,
        realm=realm.value,
        action=SIGN_IN[realm],
        next=local_path(page.query("next") or page.form.get("next", ""), HOME[realm]),
        name=page.field("name"),
        refused=refused,
    )


Endpoint = Callable[[Request], Awaitable[Response]]


def _sign_in(realm: Realm) -> Endpoint:
    async def handler(page: Page) -> Response:
        if page.request.method == "GET":
            return _login(page, realm)
        outcome = await console_auth.sign_in(
            page.platform, realm, page.field("name"), page.form.get("password", ""), page.address
        )
        if outcome.refused is SignInRefusal.THROTTLED:
            return _login(page, realm, page.t("signin.throttled"), 429)
        if outcome.refused is not None or outcome.token is None:
            return _login(page, realm, page.t("signin.refused"), 401)
        page.cookies[COOKIES[realm]] = outcome.token
        return redirect(page, local_path(page.form.get("next", ""), HOME[realm]))

    return public_page(handler)


def _sign_out(realm: Realm) -> Endpoint:
    """Sign-out is a form of the signed-in pages: it carries the session's CSRF token."""

    async def handler(page: Page) -> Response:
        await console_auth.sign_out(page.platform, page.request.cookies.get(COOKIES[realm]))
        page.cookies[COOKIES[realm]] = None
        return redirect(page, SIGN_IN[realm], page.t("signin.signed_out"))

    return operator_page(handler) if realm is Realm.OPERATOR else customer_page(handler)


def _to(target: str) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        return RedirectResponse(target, status_code=307)

    return endpoint


async def _language(page: Page) -> Response:
    code = page.request.path_params["code"]
    if code in LANGUAGES:
        page.cookies[LANG_COOKIE] = code
    return redirect(page, local_path(page.query("next"), "/console/"))


def console_routes() -> list[BaseRoute]:
    """Everything under ``/console``."""
    routes: list[BaseRoute] = [
        Route("/login", _sign_in(Realm.OPERATOR), methods=["GET", "POST"]),
        Route("/my/login", _sign_in(Realm.CUSTOMER), methods=["GET", "POST"]),
        Route("/logout", _sign_out(Realm.OPERATOR), methods=["POST"]),
        Route("/my/logout", _sign_out(Realm.CUSTOMER), methods=["POST"]),
        Route("/lang/{code}", public_page(_language), methods=["GET"]),
        Route("/my", _to("/console/my/")),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="console-static"),
        *operator_routes(),
        *customer_routes(),
    ]
    # "/console" itself goes to "/console/" by the application's slash redirect.
    return [Mount(CONSOLE_PATH, routes=routes)]
