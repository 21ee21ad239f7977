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


def test_the_readme_configuration_walkthrough_runs_as_written(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    text = (ROOT / "README.md").read_text("utf-8")
    block = next(b for b in re.findall(r"```sh\n(.*?)```", text, re.S) if "duanxin init" in b)
    script = block.replace("\\\n", " ")
    kept = [
        line
        for line in script.splitlines()
        if line.strip() and not re.match(r"\s*duanxin (serve|simulate)\b", line)
    ]
    assert len(kept) >= 8 and any("--password" in line for line in kept)
    program = "set -euo pipefail\n" + f'duanxin() {{ "{sys.executable}" -m duanxin.cli "$@"; }}\n'
    env = {k: v for k, v in os.environ.items() if k != "DUANXIN_ENCRYPTION_KEY"}
    done = subprocess.run(
        ["bash", "-c", program + "\n".join(kept)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SecretKey:" in done.stdout and "approved" in done.stdout
