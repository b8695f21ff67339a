"""The smallest possible flow: run once by ``crisiscast serve`` so later launches start warm."""

from __future__ import annotations

from prefect import flow


@flow(name="warm-up")
def warm_up() -> bool:
    """Touch the API so its server, database and run machinery are loaded."""
    return True
