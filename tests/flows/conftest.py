"""Flow tests run against one Prefect test server for the whole session (Prefect's advice)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prefect.testing.utilities import prefect_test_harness


@pytest.fixture(scope="session", autouse=True)
def prefect_api() -> Iterator[None]:
    """A throwaway Prefect API and database, so flow runs are real and leave nothing behind."""
    with prefect_test_harness(server_startup_timeout=60):
        yield
