"""The README and docs/ link only to files in the repository, and those files exist; the
API reference documents every operator path the server routes."""

from __future__ import annotations

import re
from pathlib import Path

from duanxin.api.openapi import openapi_path
from duanxin.api.operator import OPERATIONS

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)\s]+)\)")
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_links_point_at_files_of_the_repository() -> None:
    assert len(DOCUMENTS) >= 5
    for document in DOCUMENTS:
        for target in LINK.findall(document.read_text("utf-8")):
            assert not re.match(r"[a-z]+:", target), f"{document.name}: {target}"
            path = target.split("#", 1)[0]
            if path:
                assert (document.parent / path).exists(), f"{document.name}: {target}"


def test_the_reference_names_every_operator_path_in_both_languages() -> None:
    for name in ("api.md", "api.zh.md"):
        text = (ROOT / "docs" / name).read_text("utf-8")
        for operation in OPERATIONS:
            path = openapi_path(operation.path)
            head = path.rsplit("/", 1)[0] if path.endswith(("/enable", "/disable")) else path
            assert head in text, f"{name} does not mention {path}"
