"""The thin warm path's own decisions: which command lines it takes (anything else goes
through the app) and how it compares its store with serve's without importing SQLAlchemy."""

from __future__ import annotations

import pytest

from crisiscast.cli.common import safe_store_url
from crisiscast.cli.warm_path import parse
from crisiscast.config import load_settings
from crisiscast.web.warm import masked_store_url


@pytest.mark.parametrize(
    ("args", "path", "payload"),
    [
        (["broadcast", "INC-3"], "/api/warm/broadcast", {"incident": "INC-3", "when": "launch"}),
        (["all-clear", "INC-3"], "/api/warm/broadcast", {"when": "all_clear"}),
        (["update", "INC-3", "--text", "Rising", "--text=th=สูง"], "/api/warm/broadcast",
         {"when": "update", "texts": ["Rising", "th=สูง"]}),
        (["sweep"], "/api/warm/sweep", {"commander": None}),
        (["sweep", "--commander", "+66800000001"], "/api/warm/sweep",
         {"commander": "+66800000001"}),
        (["stand-down", "INC-3"], "/api/warm/stand-down", {"hand_over_to": None}),
        (["stand-down", "INC-3", "--hand-over-to", "4"], "/api/warm/stand-down",
         {"hand_over_to": 4}),
    ],
)  # fmt: skip
def test_the_plain_flow_commands_go_to_serve(
    args: list[str], path: str, payload: dict[str, object]
) -> None:
    """The forms a commander types most are handed to serve, with the app's defaults."""
    request = parse(args)
    assert request is not None and request.path == path
    assert payload.items() <= request.payload.items()


@pytest.mark.parametrize(
    "args",
    [
        [], ["list"], ["launch", "flood"], ["triage"], ["broadcast"], ["broadcast", "--help"],
        ["broadcast", "INC-3", "--everyone"], ["broadcast", "--everyone", "INC-3"],
        ["broadcast", "INC-3", "--audience", "people.csv"], ["update", "INC-3"],
        ["update", "INC-3", "--announcement", "warning"], ["update", "INC-3", "--text"],
        ["update", "INC-3", "--text", "--help"], ["update", "INC-3", "--text", "x", "--list", "a"],
        ["sweep", "--commander"], ["sweep", "--commander=+66800000001"], ["sweep", "-h"],
        ["stand-down", "INC-3", "--keep-escalating"], ["stand-down", "INC-3", "--hand-over-to"],
        ["stand-down", "INC-3", "--hand-over-to", "0"],
        ["stand-down", "INC-3", "--hand-over-to", "x"],
        ["stand-down", "INC-3", "--hand-over-to", "99999999999"],
        ["stand-down", "INC-3", "--hand-over-to", "٣"],  # a digit, but not one Typer takes
        ["broadcast", "INC-" + "9" * 37], ["sweep", "--commander", "x" * 321],  # serve's bounds
    ],
)  # fmt: skip
def test_anything_else_goes_through_the_app(args: list[str]) -> None:
    """Help, other options, other orders and odd values: the app parses them and answers."""
    assert parse(args) is None


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////var/lib/crisiscast/crisiscast.db",
        "sqlite:///relative/crisiscast.db",
        "postgresql://crisis:secret@127.0.0.1:5432/crisiscast",
        "postgres://crisis@db.example.org/crisiscast",
        "postgresql+psycopg://crisis:@db/crisiscast",
        "postgresql://db:6543/crisiscast",
    ],
)
def test_the_store_is_named_as_serve_names_it(url: str) -> None:
    """Serve's store (SQLAlchemy's masked rendering) is matched exactly, password masked."""
    assert masked_store_url(url) == safe_store_url(load_settings({"CRISISCAST_DATABASE_URL": url}))


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////tmp/with space.db",
        "sqlite:///:memory:",
        "postgresql://crisis:p%40ss@db/crisiscast",
        "postgresql://crisis@db/crisiscast?sslmode=require",
        "mysql://crisis@db/crisiscast",
    ],
)
def test_a_store_url_it_cannot_render_is_left_to_the_app(url: str) -> None:
    """No guess: the app compares such a store itself (and refuses a mismatch by name)."""
    assert masked_store_url(url) is None
