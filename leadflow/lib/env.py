"""Strict readers for configuration from the environment.

django-environ turns URLs into Django dicts; these helpers add the loud
failure: a variable that is set but malformed stops the process with a message
naming the variable, instead of silently falling back to a default.
"""

from __future__ import annotations

import os

import environ


class ConfigurationError(RuntimeError):
    """A configuration variable is set to a value that cannot be used."""


_env = environ.Env()


def is_set(name: str) -> bool:
    return bool(os.environ.get(name, "").strip())


def string(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value.strip() == "" else value.strip()


def boolean(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(f"{name} must be one of 1/0/true/false/yes/no/on/off, got {raw!r}")


def integer(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, got {value}")
    return value


def choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = string(name, default)
    if value not in choices:
        raise ConfigurationError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def string_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def database(name: str, default: str) -> dict:
    url = string(name, default)
    try:
        config = _env.db_url_config(url)
    except Exception as exc:  # django-environ raises several types for bad URLs
        raise ConfigurationError(f"{name} is not a usable database URL: {exc}") from None
    # django-environ passes an unknown scheme through as the ENGINE name.
    if "." not in config.get("ENGINE", ""):
        raise ConfigurationError(f"{name} has an unsupported scheme: {url.split(':', 1)[0]!r}")
    return config


def email(name: str, default: str) -> dict:
    url = string(name, default)
    try:
        return _env.email_url_config(url)
    except Exception as exc:
        raise ConfigurationError(f"{name} is not a usable email URL: {exc}") from None
