"""Fixtures of the import tests."""

import pytest

from inquiries.services.imports import writing


@pytest.fixture(autouse=True)
def imports_root(settings, tmp_path):
    settings.IMPORTS_ROOT = tmp_path / "imports"
    return settings.IMPORTS_ROOT


@pytest.fixture(params=["database", "python"])
def path(request, monkeypatch):
    """The backend's own writing path, and the ORM path (SQLite's) everywhere."""
    if request.param == "python":
        monkeypatch.setattr(writing, "set_based", lambda: False)
    return request.param
