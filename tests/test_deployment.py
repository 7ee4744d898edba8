"""The production shape in docker-compose.yml, read as Compose reads it (no Docker needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

COMPOSE_FILE = Path(__file__).resolve().parent.parent / "docker-compose.yml"

# Commands of the processes that write, read or sweep uploaded CSV files.
IMPORT_PROCESSES = {
    "web": ("gunicorn", "leadflow.wsgi"),
    "worker": ("celery", "worker"),
    "beat": ("celery", "beat"),
}


def compose() -> dict:
    # PyYAML's safe loader resolves the anchors and `<<` merge keys as Compose does.
    return yaml.safe_load(COMPOSE_FILE.read_text())


def environment_of(service: dict) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    return {key: "" if value is None else str(value) for key, value in environment.items()}


def command_of(service: dict) -> list[str]:
    command = service.get("command") or []
    return command.split() if isinstance(command, str) else [str(part) for part in command]


def runs_an_import_process(service: dict) -> bool:
    command = command_of(service)
    return any(all(word in command for word in words) for words in IMPORT_PROCESSES.values())


def services_touching_imports(config: dict) -> dict[str, dict]:
    return {
        name: service
        for name, service in config["services"].items()
        if "IMPORTS_ROOT" in environment_of(service) or runs_an_import_process(service)
    }


def mounts_of(service: dict) -> dict[str, str]:
    """Container path → source (a volume name or a host path) of each mount."""
    mounts = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume.get("source", ""), volume["target"]
        mounts[target.rstrip("/")] = source
    return mounts


def test_web_worker_and_beat_are_among_the_services_that_touch_uploads():
    assert set(IMPORT_PROCESSES) <= set(services_touching_imports(compose()))


@pytest.mark.parametrize("name", sorted(services_touching_imports(compose())))
def test_a_service_touching_uploads_names_imports_root(name):
    service = compose()["services"][name]
    assert environment_of(service).get("IMPORTS_ROOT", "").startswith("/"), (
        f"{name}: set IMPORTS_ROOT to an absolute path, the same in every service"
    )


def test_every_service_touching_uploads_mounts_one_named_volume_at_imports_root():
    config = compose()
    named_volumes = set(config.get("volumes") or {})
    mounted = {}
    for name, service in services_touching_imports(config).items():
        path = environment_of(service).get("IMPORTS_ROOT", "").rstrip("/")
        mounted[name] = (path, mounts_of(service).get(path))
    sources = {source for _, source in mounted.values()}
    assert len(sources) == 1, f"services mount different things at IMPORTS_ROOT: {mounted}"
    (source,) = sources
    assert source in named_volumes, (
        f"IMPORTS_ROOT must be a named volume declared under `volumes:`, got {mounted}"
    )
    assert len({path for path, _ in mounted.values()}) == 1, mounted
