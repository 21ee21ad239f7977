"""/openapi.json: a valid OpenAPI 3.1 document of exactly the routes served, whose answer
schemas the real answers satisfy; /docs: the same, browsable, with nothing from elsewhere."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
from openapi_spec_validator import validate
from starlette.routing import Mount, Route

from duanxin.console import CONSOLE_PATH
from duanxin.service import admin
from tests.conftest import Stack


async def _document(stack: Stack) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.facts.url) as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _served(stack: Stack) -> set[tuple[str, str]]:
    served = set()
    for route in stack.running.app.routes:
        if isinstance(route, Mount) and route.path == CONSOLE_PATH:
            continue  # the web console's pages: HTML, not part of the API
        assert isinstance(route, Route)
        path = route.path.replace("{id:int}", "{id}").replace("{action:str}", "{action}")
        for method in route.methods or {"GET"}:
            if method != "HEAD":
                served.add((path, method.lower()))
    return served


def _check(document: dict[str, Any], path: str, method: str, answer: Any) -> None:
    schema = document["paths"][path][method]["responses"]["200"]["content"]["application/json"]
    root = {**schema["schema"], "components": document["components"]}
    jsonschema.validate(answer, root)


async def test_the_document_is_valid_and_lists_exactly_the_routes(stack: Stack) -> None:
    document = await _document(stack)
    validate(document)
    assert document["openapi"] == "3.1.0"
    documented = {(p, m) for p, item in document["paths"].items() for m in item}
    assert documented == _served(stack)
    # Only these are described from a docstring: every API route has a declaration
    # (parameters, body model, answer type), so a route added without one fails here.
    undeclared = {
        p for p, item in document["paths"].items() for op in item.values()
        if op["tags"] == ["platform"]
    }  # fmt: skip
    assert undeclared == {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/demo/mo"}
    send = document["paths"]["/smssend"]["post"]
    form = send["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert {"account", "password", "mobile", "content"} <= set(form["required"])
    assert {"sendtime", "extno", "reqid"} <= set(form["properties"])
    create = document["paths"]["/admin/accounts"]["post"]
    assert {"409", "422", "401"} <= set(create["responses"])


async def test_real_answers_have_the_documented_shapes(stack: Stack) -> None:
    document = await _document(stack)
    async with stack.client() as client:
        await client.send("13800138000", "您的验证码是1234")
    fields = {"account": stack.facts.account, "password": stack.facts.password}
    from tests.e2e.helpers import stack_headers

    async with httpx.AsyncClient(base_url=stack.facts.url) as raw:
        for path in ("/smssend", "/smsoverage", "/smsreport", "/smsmo"):
            data = {**fields, "mobile": "13900139000", "content": "您的验证码是5678"}
            answer = await raw.post(path, data=data, headers=stack_headers(stack))
            _check(document, path, "post", answer.json())
    token = await admin.create_operator_token(stack.running.platform, "docs")
    bearer = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=stack.facts.url, headers=bearer) as operator:
        for path in ("/admin/accounts", "/admin/channels", "/admin/keys", "/admin/tokens"):
            _check(document, path, "get", (await operator.get(path)).json())
        refused = await operator.get("/admin/accounts/nobody")
        error = document["paths"]["/admin/accounts/{account}"]["get"]["responses"]["404"]
        root = {**error["content"]["application/json"]["schema"], **document}
        jsonschema.validate(refused.json(), root)


async def test_the_docs_page_is_self_contained(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.facts.url) as client:
        page = await client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    for path in ("/smssend", "/admin/accounts/{account}", "/customer/templates", "/admin/keys"):
        assert f"<code>{path}</code>" in html
    assert "<script" not in html and "<link" not in html and "http://" not in html.lower()
