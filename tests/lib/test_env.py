"""Configuration helpers fail loudly on a malformed value instead of guessing."""

import pytest

from leadflow.lib import env


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("off", False), ("", True)])
def test_boolean_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("LF_FLAG", raw)
    assert env.boolean("LF_FLAG", True) is expected


def test_boolean_rejects_an_unknown_spelling(monkeypatch):
    monkeypatch.setenv("LF_FLAG", "maybe")
    with pytest.raises(env.ConfigurationError, match="LF_FLAG"):
        env.boolean("LF_FLAG", False)


def test_integer_rejects_text(monkeypatch):
    monkeypatch.setenv("LF_NUMBER", "ten")
    with pytest.raises(env.ConfigurationError, match="LF_NUMBER"):
        env.integer("LF_NUMBER", 1)


def test_integer_rejects_a_value_below_the_minimum(monkeypatch):
    monkeypatch.setenv("LF_NUMBER", "3")
    with pytest.raises(env.ConfigurationError, match="at least 24"):
        env.integer("LF_NUMBER", 24, minimum=24)


def test_database_rejects_an_unknown_scheme(monkeypatch):
    monkeypatch.setenv("LF_DB", "oracle-ish://x")
    with pytest.raises(env.ConfigurationError, match="LF_DB"):
        env.database("LF_DB", "sqlite:///x")


def test_database_reads_a_postgres_url(monkeypatch):
    monkeypatch.setenv("LF_DB", "postgres://app@db:5432/leadflow")
    config = env.database("LF_DB", "sqlite:///x")
    assert (config["USER"], config["HOST"], config["NAME"]) == ("app", "db", "leadflow")
