"""Compare the dashboard's rollups with a recount of the raw tables (tests of tracking.rollups)."""

from __future__ import annotations

from sqlalchemy import text

from runtime import Runtime
from tracking import rollups


def kept(runtime: Runtime) -> dict[tuple[str, int, str], int]:
    """Return every count the rollups hold, deltas included."""
    with runtime.session() as session:
        metrics = set(session.scalars(text("SELECT DISTINCT metric FROM rollups")))
        metrics |= set(session.scalars(text("SELECT DISTINCT metric FROM rollup_deltas")))
        return rollups.read(session, metrics) if metrics else {}


def assert_exact(runtime: Runtime) -> dict[tuple[str, int, str], int]:
    """Check the rollups against a recount, before and after folding; return the counts."""
    with runtime.session() as session:
        expected = rollups.recount(session)
    assert kept(runtime) == expected
    rollups.fold_rollups(runtime)
    assert kept(runtime) == expected
    with runtime.session() as session:
        assert session.scalar(text("SELECT COUNT(*) FROM rollup_deltas")) == 0
    return expected
