"""Every ldapdiag command runs with full collections ten times rarer (ldapdiag/collector.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from ldapdiag.cli import main
from ldapdiag.collector import FULL_COLLECTION_EVERY


@pytest.fixture
def default_thresholds() -> Iterator[tuple[int, int, int]]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's defaults
    yield gc.get_threshold()
    gc.set_threshold(*saved)


def test_a_command_makes_full_collections_rarer(default_thresholds: tuple[int, int, int]) -> None:
    result = CliRunner().invoke(main, ["config", "--no-env", "--format", "json"])
    assert result.exit_code in (0, 2), result.output
    assert gc.get_threshold() == (700, 10, FULL_COLLECTION_EVERY)
    assert default_thresholds[2] < FULL_COLLECTION_EVERY
