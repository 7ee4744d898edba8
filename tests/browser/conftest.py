"""Browser fixtures: the system Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; without this
# Django refuses ORM calls there ("You cannot call this from an async context").
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = os.environ.get("LEADFLOW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def screenshot_dir(pytestconfig) -> Path:
    path = Path(pytestconfig.rootpath) / "test-output" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def screenshot(request, page, screenshot_dir):
    """``screenshot("step")`` saves a full-page PNG named after the test and the step."""

    def take(step: str) -> Path:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{request.node.name}-{step}")
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (own cookies) per test."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
def csp_errors(page):
    """Console errors the Content Security Policy raised (inline script or style refused)."""
    errors: list[str] = []
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    return errors


@pytest.fixture
def worker(monkeypatch):
    """A real Celery worker on a queue of this test's own (xdist workers share one Redis)."""
    from celery.contrib.testing.worker import start_worker

    from leadflow.celery import app

    queue = f"test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setitem(app.conf, "task_default_queue", queue)
    with start_worker(app, pool="solo", queues=[queue], perform_ping_check=False):
        yield
