"""``/docs``: the OpenAPI document as one browsable HTML page, rendered here on the
server from the document itself (no script, no stylesheet or font from anywhere else)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

__all__ = ["render_docs"]

STYLE = """
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#222}
header{background:#123;color:#fff;padding:1em 2em}header a{color:#9cf}
main{display:flex}nav{width:16em;padding:1em;border-right:1px solid #ddd;font-size:13px}
nav a{display:block;color:#036;text-decoration:none}section{flex:1;padding:1em 2em}
details{border:1px solid #ddd;border-radius:4px;margin:.4em 0}summary{padding:.4em;cursor:pointer}
.m{display:inline-block;width:4.5em;font-weight:bold;font-family:monospace}
.get{color:#06c}.post{color:#080}.put{color:#a60}.patch{color:#a0a}.delete{color:#c00}
code,pre{font-family:ui-monospace,monospace;font-size:13px}
pre{background:#f6f6f6;padding:.6em;overflow:auto}table{border-collapse:collapse}
td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left;vertical-align:top}
.body{padding:0 1em 1em}
"""


def _schema_html(schema: Any) -> str:
    text = escape(json.dumps(schema, ensure_ascii=False, indent=2))
    # Link every "$ref" to the schema's section below.
    for name in _refs(schema):
        quoted = escape(json.dumps(f"#/components/schemas/{name}"))
        text = text.replace(quoted, f'<a href="#schema-{escape(name)}">{quoted}</a>')
    return f"<pre>{text}</pre>"


def _refs(schema: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            found.add(ref.rsplit("/", 1)[-1])
        for value in schema.values():
            found |= _refs(value)
    elif isinstance(schema, list):
        for value in schema:
            found |= _refs(value)
    return found


def _parameters(operation: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
        f"<td>{'yes' if p.get('required') else ''}</td>"
        f"<td>{escape(str(p.get('description') or p.get('schema', {}).get('description', '')))}"
        "</td></tr>"
        for p in operation.get("parameters", [])
    )
    if not rows:
        return ""
    head = "<tr><th>name</th><th>in</th><th>required</th><th>description</th></tr>"
    return f"<h4>Parameters</h4><table>{head}{rows}</table>"


def _operation(path: str, method: str, operation: dict[str, Any]) -> str:
    parts = [
        f'<details id="{escape(operation.get("operationId", ""))}"><summary>'
        f'<span class="m {method}">{method.upper()}</span> <code>{escape(path)}</code> '
        f"{escape(operation.get('summary', ''))}</summary><div class=body>"
    ]
    if operation.get("description"):
        parts.append(f"<p>{escape(operation['description'])}</p>")
    parts.append(_parameters(operation))
    body = operation.get("requestBody", {}).get("content", {})
    for media, content in body.items():
        parts.append(f"<h4>Body ({escape(media)})</h4>{_schema_html(content.get('schema'))}")
    parts.append("<h4>Answers</h4>")
    for status, response in operation.get("responses", {}).items():
        parts.append(f"<p><b>{escape(status)}</b> {escape(response.get('description', ''))}</p>")
        for content in response.get("content", {}).values():
            parts.append(_schema_html(content.get("schema")))
    parts.append("</div></details>")
    return "".join(parts)


def render_docs(document: dict[str, Any]) -> str:
    """The whole page for ``document`` (an OpenAPI 3.1 document)."""
    by_tag: dict[str, list[str]] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            tag = (operation.get("tags") or ["other"])[0]
            by_tag.setdefault(tag, []).append(_operation(path, method, operation))
    nav = "".join(f'<a href="#tag-{escape(t)}">{escape(t)}</a>' for t in by_tag)
    nav += '<a href="#schemas">schemas</a>'
    sections = "".join(
        f'<h2 id="tag-{escape(tag)}">{escape(tag)}</h2>{"".join(ops)}'
        for tag, ops in by_tag.items()
    )
    schemas = "".join(
        f'<h3 id="schema-{escape(name)}">{escape(name)}</h3>{_schema_html(schema)}'
        for name, schema in document["components"]["schemas"].items()
    )
    info = document["info"]
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(info['title'])} API</title><style>{STYLE}</style></head><body>"
        f"<header><h1>{escape(info['title'])} {escape(info['version'])} API</h1>"
        f"<p>{escape(info.get('description', ''))} "
        '<a href="/openapi.json">openapi.json</a></p></header>'
        f"<main><nav>{nav}</nav><section>{sections}"
        f'<h2 id="schemas">Schemas</h2>{schemas}</section></main></body></html>'
    )
