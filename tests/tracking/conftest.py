"""Fixtures of the tracking tests: clean spool folders, and apps whose spool stops afterwards."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from config import Settings
from runtime import Runtime
from tracking.spool import spool_dir

log = logging.getLogger(__name__)


@pytest.fixture
def clean_spool() -> Iterator[Callable[[Settings], Path]]:
    """Return clean(settings): empty that installation's spool folder now and after the test."""
    folders: list[Path] = []

    def clean(settings: Settings) -> Path:
        folder = spool_dir(settings)
        shutil.rmtree(folder, ignore_errors=True)
        folders.append(folder)
        return folder

    yield clean
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def fresh_spool(settings: Settings, clean_spool: Callable[[Settings], Path]) -> Path:
    """Start and end the test with an empty tracking spool for its database and Redis."""
    return clean_spool(settings)


@pytest.fixture
def make_app(
    make_runtime: Callable[..., Runtime], clean_spool: Callable[[Settings], Path]
) -> Iterator[Callable[[Runtime], Any]]:
    """Return make(runtime): a Flask app on RUNTIME whose spool timer stops after the test."""
    from web import create_app

    apps: list[Any] = []

    def make(runtime: Runtime) -> Any:
        app = create_app(runtime=runtime)
        apps.append(app)
        return app

    yield make
    for app in apps:
        try:
            app.extensions["nurture_hits"].spool.stop()
        except Exception:
            # A test whose Redis and database are both down: its hits cannot be shipped.
            log.warning("could not ship a test app's spool at teardown", exc_info=True)


@pytest.fixture
def app(runtime: Runtime, make_app: Callable[[Runtime], Any]) -> Any:
    """The Flask app on this test's runtime (its spool stopped afterwards)."""
    return make_app(runtime)
