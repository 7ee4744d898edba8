"""The README and docs/ point at what exists and list what the code accepts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from inquiries.models import Source

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\((?!https?://|#|mailto:)([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_relative_link_points_at_a_file_that_exists(document):
    missing = [
        target
        for target in LINK.findall(document.read_text())
        if not (document.parent / target).exists()
    ]
    assert missing == []


def test_nothing_points_at_a_design_document_outside_the_repository():
    code = [
        path
        for folder in ("leadflow", "inquiries", "leads", "nurture", "reporting", "scripts", "bench")
        for path in (ROOT / folder).rglob("*.py")
    ]
    sources = [*DOCUMENTS, *code, ROOT / "docker-compose.yml", ROOT / "Dockerfile"]
    pointing = [str(path.relative_to(ROOT)) for path in sources if "DESIGN.md" in path.read_text()]
    assert pointing == [], "point at docs/architecture.md instead"


def test_the_architecture_page_exists_and_the_readme_links_it():
    assert (ROOT / "docs" / "architecture.md").exists()
    assert "(docs/architecture.md)" in (ROOT / "README.md").read_text()


def test_the_api_docs_list_every_allowed_source_value():
    api = (ROOT / "docs" / "api.md").read_text()
    assert [value for value in Source.values if f"| `{value}` |" not in api] == []


def test_the_quick_start_names_the_login_url():
    assert "http://127.0.0.1:8000/login/" in (ROOT / "README.md").read_text()
