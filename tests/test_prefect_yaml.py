"""Every deployment in prefect.yaml points at a flow that Prefect can load by file path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from prefect.flows import load_flow_from_entrypoint

ROOT = Path(__file__).resolve().parent.parent
DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_entrypoint_loads(deployment: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    """`prefect deploy` would find the flow and its parameters exist on it."""
    monkeypatch.chdir(ROOT)
    flow = load_flow_from_entrypoint(str(deployment["entrypoint"]))
    params = deployment.get("parameters") or {}
    assert isinstance(params, dict)
    accepted = set(flow.parameters.properties)
    assert set(params) <= accepted, f"unknown parameters {set(params) - accepted}"
