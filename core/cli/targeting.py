"""Who a command reaches: the ``--list``/``--filter``/``--everyone``/``--audience`` options, the
checks that run before an incident is opened, and the reach table that preview and launch print.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from crisiscast.cli.common import out
from crisiscast.errors import ConfigError

ListOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--list", "-l", help="Reach this contact list (repeat for more; see `crisiscast lists`)"
    ),
]
FilterOpt = Annotated[
    str | None,
    typer.Option(
        "--filter",
        help="Reach contacts matching all terms, e.g. 'language=th,tag=elderly' "
        "(keys: language, tag, area, region, list, any CSV column; @name: a saved filter)",
    ),
]
EveryoneOpt = Annotated[
    bool, typer.Option("--everyone", help="Reach every contact in the directory (explicitly)")
]
AreaFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--area-file", help="Reach contacts inside this GeoJSON area (positions are lon,lat)"
    ),
]
PolygonOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--polygon",
        help="Reach contacts inside this CAP polygon: 'lat,lon lat,lon ...', first point repeated"
        " last (repeat for more)",
    ),
]
CircleOpt = Annotated[
    list[str] | None,
    typer.Option("--circle", help="Reach contacts within a circle: 'lat,lon radius_km'"),
]
AreaCodeOpt = Annotated[
    list[str] | None,
    typer.Option("--area-code", help="Reach contacts with this area code, e.g. TH-10"),
]
AreaNameOpt = Annotated[
    str | None,
    typer.Option("--area-name", help="How the CAP alert describes the area (areaDesc)"),
]
RejectsOpt = Annotated[
    Path | None,
    typer.Option(help="Write rejected rows here (default: beside the file, NAME.rejects.csv)"),
]


def target_json(
    lists: Sequence[str] | None,
    filter_: str | None,
    everyone: bool,
    area: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The target options as the flows take them (None when none is given)."""
    from crisiscast.incidents.audience.directory import TargetSpec

    spec = TargetSpec(tuple(lists or ()), filter_ or None, area, everyone)
    return None if spec.empty else spec.to_json()


def area_from_options(
    area_file: Path | None,
    polygons: Sequence[str] | None,
    circles: Sequence[str] | None,
    codes: Sequence[str] | None,
    name: str | None,
) -> dict[str, Any] | None:
    """The area options as a target stores them (None when none is given), checked now so a
    bad area fails before an incident is opened."""
    if area_file is None and not (polygons or circles or codes):
        return None
    from crisiscast.incidents.audience.areas import area_option

    return area_option(
        geojson=area_file,
        polygons=polygons or (),
        circles=circles or (),
        codes=codes or (),
        description=name,
    )


@contextmanager
def rolled_back(store: Any) -> Iterator[Session]:
    """A session whose changes are always undone: checks and dry runs."""
    session = Session(store.engine)
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def playbook_default(playbook: Any) -> dict[str, Any] | None:
    """The playbook's default selector: the lists its audiences declare (None when none)."""
    lists = sorted({name for audience in playbook.audiences.values() for name in audience.lists})
    return {"lists": lists} if lists else None


def check_target(
    session: Session,
    target: dict[str, Any] | None,
    *,
    audience: Path | None,
    region: str,
    playbook: Any,
) -> dict[str, Any]:
    """Everything about a launch's target that can fail, checked before an incident exists:
    the CSV (readable, UTF-8, columns), the region, the lists and the filter. Returns the
    target to use (the playbook's default when none is named); ConfigError says how to name one.
    """
    from crisiscast.incidents.audience.csv_import import (
        audience_list,
        check_contacts_file,
        check_region,
    )
    from crisiscast.incidents.audience.directory import (
        NO_TARGET,
        TargetSpec,
        require_target,
        resolve_target,
    )

    check_region(region)
    if audience is not None:
        check_contacts_file(audience, region)
    if target is None and audience is None:
        target = playbook_default(playbook)
        if target is None:
            raise ConfigError(f"no target: {NO_TARGET}")
    spec = TargetSpec.from_json(target)
    if not spec.empty:
        resolve_target(session, require_target(spec))
    if audience is not None:
        audience_list(audience)
    return spec.to_json()


def print_reach(rows: Sequence[Any], title: str, settings: Any = None) -> None:
    """The reach table: per channel and language, reached and suppressed; with ``settings``,
    how long the send takes at the configured senders' rates."""
    from crisiscast.incidents.broadcast.reach_report import fallback_summary, send_time_lines

    if not rows:
        out.print(f"{title}: no SMS or email in this announcement", highlight=False)
        return
    table = Table(title=title, title_justify="left")
    for name in ("channel", "language", "reached", "opted out", "no address", "fallback"):
        table.add_column(name, justify="left" if name in ("channel", "language") else "right")
    for row in rows:
        table.add_row(
            row.channel, row.language, f"{row.reached:,}", f"{row.opted_out:,}",
            f"{row.no_address:,}", f"{row.fallback:,}",
        )  # fmt: skip
    out.print(table)
    summary = fallback_summary(rows)
    if summary:
        out.print(summary, highlight=False)
    for line in send_time_lines(rows, settings) if settings is not None else []:
        out.print(f"Send time: {line}", highlight=False)


def reach_of_spec(
    session: Session, target: dict[str, Any], playbook: Any, channels: Sequence[str]
) -> list[Any]:
    """Reach rows of a target not recorded yet (preview, dry run)."""
    from crisiscast.incidents.audience.directory import TargetSpec, create_target, target_members
    from crisiscast.incidents.broadcast.reach_report import reach_report

    spec = TargetSpec.from_json(target)
    if spec.area:  # an area is resolved by the geo selector: record it (rolled back after)
        from datetime import UTC, datetime

        made = create_target(session, spec, incident_id=None, now=datetime.now(UTC))
        ids = target_members(session, made)
    else:
        from crisiscast.incidents.audience.directory import resolve_target

        ids = resolve_target(session, spec)
    audiences = {n: list(a.channels) for n, a in playbook.audiences.items()}
    return reach_report(
        session, ids, channels=channels, languages=playbook.languages, audiences=audiences
    )


def reach_of_incident(session: Session, ref: str, playbook: Any) -> list[Any]:
    """Reach rows of an incident's launch target, as recorded."""
    from sqlalchemy import select

    from crisiscast.incidents.audience.directory import target_members
    from crisiscast.incidents.broadcast.reach_report import reach_report
    from crisiscast.incidents.store import database as st
    from crisiscast.incidents.store.models import Announcement, Target

    incident = st.get_incident(session, ref)
    target = session.scalar(
        select(Target).where(Target.incident_id == incident.id).order_by(Target.id).limit(1)
    )
    if target is None:
        return []
    staged = select(Announcement.channel).where(
        Announcement.incident_id == incident.id, Announcement.target_id == target.id
    )
    channels = sorted(set(session.scalars(staged)))
    audiences = {n: list(a.channels) for n, a in playbook.audiences.items()}
    return reach_report(
        session, target_members(session, target), channels=channels,
        languages=playbook.languages, audiences=audiences,
    )  # fmt: skip
