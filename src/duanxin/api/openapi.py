"""The OpenAPI 3.1 document of every HTTP endpoint, generated from the declarations the
routes are built from: the published endpoints (:data:`duanxin.api.seed.SEED_ENDPOINTS`),
the customer REST (:data:`duanxin.api.customer.CUSTOMER_ENDPOINTS`) and the operator REST
(:data:`duanxin.api.operator.OPERATIONS`, with its pydantic models). Any other route of
the application (health, readiness, metrics, a mode's extras) is described from its
endpoint's docstring, so the document lists exactly the routes the application serves.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, TypeAdapter
from starlette.routing import BaseRoute, Route

from duanxin import __version__
from duanxin.api.customer import CUSTOMER_ENDPOINTS
from duanxin.api.errors import ErrorBody
from duanxin.api.operator import OPERATIONS
from duanxin.api.rest import NoQuery, Operation
from duanxin.api.seed import METHODS, PREFIXES, SEED_ENDPOINTS
from duanxin.api.wire_models import CustomerAnswer, Param

__all__ = ["build_document", "openapi_path"]

Schema = dict[str, Any]
REF = "#/components/schemas/{model}"
_TYPED_PARAM = re.compile(r"\{(\w+):(\w+)\}")
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
GATEWAY_HEADERS = (
    ("Authorization", 'hmac id="<SecretId>", algorithm="hmac-sha1", headers="x-date x-source", '
                      'signature="<base64>"'),
    ("X-Date", "The request time, RFC 1123, GMT (within the signature window)."),
    ("X-Source", "Any text; signed with X-Date."),
)  # fmt: skip
STATUS_TEXT = {
    200: "OK",
    400: "Body is not a JSON object",
    401: "No or unknown credentials",
    404: "Unknown name or action",
    405: "Method not allowed",
    409: "Name taken, or a state that forbids it",
    413: "Body too large",
    422: "A field refused (named in `field`)",
}


def openapi_path(path: str) -> str:
    """A Starlette path as OpenAPI writes it (``{id:int}`` becomes ``{id}``)."""
    return _TYPED_PARAM.sub(r"{\1}", path)


class _Schemas:
    """JSON schemas of types, their named parts gathered into ``components``."""

    def __init__(self) -> None:
        self.components: dict[str, Schema] = {}

    def of(self, kind: Any) -> Schema:
        schema = TypeAdapter(kind).json_schema(ref_template=REF, mode="serialization")
        self.components.update(schema.pop("$defs", {}))
        if isinstance(kind, type) and issubclass(kind, BaseModel) and "title" in schema:
            self.components[kind.__name__] = schema
            return {"$ref": REF.format(model=kind.__name__)}
        return schema

    def input(self, model: type[BaseModel]) -> Schema:
        schema = model.model_json_schema(ref_template=REF, mode="validation")
        self.components.update(schema.pop("$defs", {}))
        self.components[model.__name__] = schema
        return {"$ref": REF.format(model=model.__name__)}


def _param_schema(param: Param) -> Schema:
    schema: Schema = {"type": "string", "description": param.description}
    if param.enum:
        schema["enum"] = list(param.enum)
    if param.example is not None:
        schema["examples"] = [param.example]
    return schema


def _form(params: Sequence[Param]) -> Schema:
    return {
        "type": "object",
        "properties": {p.name: _param_schema(p) for p in params},
        "required": [p.name for p in params if p.required],
    }


def _answer(schema: Schema, description: str = "OK") -> Schema:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _gateway_refusal() -> Schema:
    refusal = {"type": "object", "properties": {"message": {"type": "string"}}}
    return _answer(refusal, "Gateway signature missing or refused")


def _parameter_form_operations(
    summary: str,
    tag: str,
    params: Sequence[Param],
    answer: Schema,
    methods: Iterable[str],
    extra_headers: Sequence[tuple[str, str]] = (),
) -> dict[str, Schema]:
    headers = [
        {"name": name, "in": "header", "required": name != "Idempotency-Key",
         "schema": {"type": "string"}, "description": text}
        for name, text in (*GATEWAY_HEADERS, *extra_headers)
    ]  # fmt: skip
    responses = {"200": _answer(answer), "401": _gateway_refusal()}
    operations: dict[str, Schema] = {}
    for method in methods:
        operation: Schema = {"summary": summary, "tags": [tag], "security": [{"gateway": []}]}
        if method == "GET":
            query = [
                {"name": p.name, "in": "query", "required": p.required, "schema": _param_schema(p)}
                for p in params
            ]
            operation["parameters"] = [*headers, *query]
        else:
            operation["parameters"] = headers
            form = _form(params)
            operation["requestBody"] = {
                "required": True,
                "content": {FORM: {"schema": form}, JSON: {"schema": form}},
            }
        operation["responses"] = responses
        operations[method.lower()] = operation
    return operations


def _seed_paths(schemas: _Schemas) -> dict[str, Schema]:
    paths: dict[str, Schema] = {}
    for seed in SEED_ENDPOINTS:
        extra = (
            (("Idempotency-Key", "A retry with the same key gets the first answer."),)
            if seed.name == "smssend"
            else ()
        )
        for prefix in PREFIXES:
            path = f"{prefix}/{seed.name}"
            paths[path] = _parameter_form_operations(
                seed.summary, "published API", seed.params, schemas.of(seed.answer), METHODS,
                extra,
            )  # fmt: skip
    return paths


def _customer_paths(schemas: _Schemas) -> dict[str, Schema]:
    paths: dict[str, Schema] = {}
    answer = schemas.of(CustomerAnswer)
    for endpoint in CUSTOMER_ENDPOINTS:
        item = paths.setdefault(endpoint.path, {})
        item.update(
            _parameter_form_operations(
                endpoint.summary, "customer", endpoint.params, answer, endpoint.methods
            )
        )
    return paths


def _path_parameters(path: str) -> list[Schema]:
    parameters = []
    for name, kind in re.findall(r"\{(\w+)(?::(\w+))?\}", path):
        schema = {"type": "integer"} if kind == "int" else {"type": "string"}
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return parameters


def _query_parameters(model: type[BaseModel]) -> list[Schema]:
    if model is NoQuery:
        return []
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", ()))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": field}
        for name, field in schema.get("properties", {}).items()
    ]


def _operation(op: Operation, schemas: _Schemas) -> Schema:
    error = _answer(schemas.of(ErrorBody), "")
    statuses = sorted({401, 422, *op.errors})
    responses: dict[str, Schema] = {"200": _answer(schemas.of(op.answer))}
    for status in statuses:
        responses[str(status)] = {**error, "description": STATUS_TEXT.get(status, "")}
    operation: Schema = {
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": f"{op.method.lower()}_{openapi_path(op.path)}",
        "security": [{"operator": []}],
        "parameters": [*_path_parameters(op.path), *_query_parameters(op.query)],
        "responses": responses,
    }
    if op.description:
        operation["description"] = op.description
    if op.upload:
        text = {"type": "string", "description": "UTF-8 text, one entry per line."}
        operation["requestBody"] = {"required": True, "content": {"text/plain": {"schema": text}}}
    elif op.has_body:
        operation["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": schemas.input(op.body)}},
        }
    return operation


def _admin_paths(schemas: _Schemas) -> dict[str, Schema]:
    paths: dict[str, Schema] = {}
    for op in OPERATIONS:
        paths.setdefault(openapi_path(op.path), {})[op.method.lower()] = _operation(op, schemas)
    return paths


def _other_paths(routes: Iterable[BaseRoute], known: dict[str, Schema]) -> dict[str, Schema]:
    """Routes not declared above, described from their endpoint's docstring."""
    paths: dict[str, Schema] = {}
    for route in routes:
        if not isinstance(route, Route):
            continue
        path = openapi_path(route.path)
        for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
            if method.lower() in known.get(path, {}):
                continue
            doc = inspect.getdoc(route.endpoint) or route.name or path
            summary, _, description = doc.partition("\n")
            paths.setdefault(path, {})[method.lower()] = {
                "summary": summary.strip(),
                "description": description.strip(),
                "tags": ["platform"],
                "operationId": f"{method.lower()}_{path}",
                "responses": {"200": {"description": "OK"}},
            }
    return paths


def build_document(routes: Sequence[BaseRoute]) -> Schema:
    """The OpenAPI 3.1 document of an application serving ``routes``."""
    schemas = _Schemas()
    declared = {**_seed_paths(schemas), **_customer_paths(schemas), **_admin_paths(schemas)}
    served = {openapi_path(r.path) for r in routes if isinstance(r, Route)}
    paths = {path: item for path, item in declared.items() if path in served}
    for path, item in _other_paths(routes, paths).items():
        paths.setdefault(path, {}).update(item)
    for path, item in paths.items():
        for method, operation in item.items():
            operation["operationId"] = re.sub(r"[^A-Za-z0-9_]+", "_", f"{method}{path}").strip("_")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "duanxin",
            "version": __version__,
            "description": "SMS platform: the four published endpoints (wire-compatible), "
            "the customer REST and the operator REST. See docs/api.md.",
        },
        "tags": [
            {"name": "published API", "description": "The published endpoints (SPEC 2.4-2.7)."},
            {"name": "customer", "description": "Signatures and templates for review."},
            {"name": "accounts"},
            {"name": "keys"},
            {"name": "channels"},
            {"name": "policy"},
            {"name": "platform"},
        ],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "securitySchemes": {
                "gateway": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "HMAC signature of X-Date and X-Source with the SecretKey.",
                },
                "operator": {"type": "http", "scheme": "bearer", "bearerFormat": "dxop_..."},
            },
        },
    }
