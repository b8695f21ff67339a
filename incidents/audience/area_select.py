"""Which contacts a target area reaches: bounding boxes in SQL, then GEOS on the edges.

Each polygon of the area (``audience.areas``) is covered by a 32 x 32 grid of boxes
(``areas.search_plan``): boxes wholly inside the polygon's interior, boxes on its edge, and
boxes outside it (never asked for). Each box is one query, ``latitude BETWEEN .. AND
longitude BETWEEN ..``, that reads only the index on ``(latitude, longitude)`` (it holds the id
too):

- an interior box returns its ids as one aggregated string (``group_concat`` on SQLite,
  ``string_agg`` on PostgreSQL), parsed by numpy: every contact in it is inside, untested;
- an edge box (and a circle's box) streams (id, latitude, longitude) in chunks, tested at once
  with ``shapely.contains_xy`` on the prepared polygon or the haversine distance, in numpy.

This keeps the million-contact case fast when the area is large: most contacts come back as
text, not as Python tuples (``bench/area_select.py``). Area codes match contacts whose
``area_codes`` list holds one of them exactly (``json_each`` / ``jsonb_exists_any``).

``among`` (a query of contact ids with conditions: a list's members, a filter) narrows the
result to those ids. ``select_contact_ids`` is the selector
``audience.directory.create_target`` calls, with the area as a target's spec stores it
(``areas.area_to_json``).

Contacts without coordinates are never in a polygon or circle. Opt-outs are not applied here:
the area says who is *there*; suppression happens where the target is resolved and sent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Select, Text, TextClause, bindparam, cast, func, literal, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from crisiscast.incidents.audience.areas import (
    Box,
    Part,
    TargetArea,
    area_from_json,
    part_contains,
    search_plan,
)
from crisiscast.incidents.store.models import Contact

#: Candidates tested per step: bounds memory on big areas.
CHUNK = 100_000

IdArray = npt.NDArray[np.int64]
_IN_BOX = "FROM contacts WHERE latitude BETWEEN {0} AND {0} AND longitude BETWEEN {0} AND {0}"
_ID_LIST = {"postgresql": "string_agg(id::text, ',')", "sqlite": "group_concat(id)"}


def _mark(connection: Connection) -> str:
    return "%s" if connection.dialect.name == "postgresql" else "?"


def _box_args(box: Box) -> tuple[float, float, float, float]:
    return (box.min_lat, box.max_lat, box.min_lon, box.max_lon)


@contextmanager
def _cursor(connection: Connection, *, server_side: bool = False) -> Iterator[Any]:
    """A DB-API cursor in the session's transaction (server-side on PostgreSQL if asked, so
    memory stays bounded). DB-API, not SQLAlchemy: a Row per candidate costs more than the
    test itself."""
    dbapi: Any = connection.connection.dbapi_connection
    named = server_side and connection.dialect.name == "postgresql"
    cursor = dbapi.cursor(name="crisiscast_area_select") if named else dbapi.cursor()
    try:
        yield cursor
    finally:
        cursor.close()


def _parse_ids(joined: str | None) -> IdArray:
    """Ids from one ``1,5,9`` string (group_concat / string_agg)."""
    if not joined:
        return np.zeros(0, dtype=np.int64)
    return np.fromstring(joined, dtype=np.int64, sep=",")


def _all_in_box(connection: Connection, box: Box) -> IdArray:
    """Every contact in ``box``: ids only, as one string (the box is inside the area)."""
    agg = _ID_LIST.get(connection.dialect.name, _ID_LIST["sqlite"])
    with _cursor(connection) as cursor:
        cursor.execute(f"SELECT {agg} " + _IN_BOX.format(_mark(connection)), _box_args(box))
        return _parse_ids(cursor.fetchone()[0])


def _inside(rows: Sequence[Any], part: Part) -> IdArray:
    # One generator per column: 3-8 ms per 100k rows, where zip(*rows) or np.array(rows)
    # take 40-120 ms.
    n = len(rows)
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
    lats = np.fromiter((r[1] for r in rows), dtype=np.float64, count=n)
    lons = np.fromiter((r[2] for r in rows), dtype=np.float64, count=n)
    selected: IdArray = ids[part_contains(part, lats, lons)]
    return selected


def _tested_in_box(connection: Connection, box: Box, part: Part, chunk: int) -> list[IdArray]:
    """The contacts in ``box`` that are inside ``part``, tested ``chunk`` at a time."""
    found = []
    with _cursor(connection, server_side=True) as cursor:
        sql = "SELECT id, latitude, longitude " + _IN_BOX.format(_mark(connection))
        cursor.execute(sql, _box_args(box))
        while rows := cursor.fetchmany(chunk):
            found.append(_inside(rows, part))
    return found


def _codes_clause(dialect: str, codes: Sequence[str]) -> TextClause:
    """Contacts whose ``area_codes`` list holds one of ``codes`` (exact, case-sensitive)."""
    if dialect == "postgresql":
        sql = "jsonb_exists_any(contacts.area_codes, CAST(:area_select_codes AS text[]))"
        return text(sql).bindparams(area_select_codes=list(codes))
    sql = (
        "EXISTS (SELECT 1 FROM json_each(contacts.area_codes) AS code "
        "WHERE code.value IN :area_select_codes)"
    )
    return text(sql).bindparams(bindparam("area_select_codes", list(codes), expanding=True))


def _ids_of(connection: Connection, query: Select[Any]) -> IdArray:
    """The ids a query of contact ids returns, aggregated into one string in the database."""
    ids = query.subquery()
    if connection.dialect.name == "postgresql":
        agg = func.string_agg(cast(ids.c[0], Text), literal(","))
    else:
        agg = func.group_concat(ids.c[0])
    return _parse_ids(connection.execute(select(agg).select_from(ids)).scalar())


def _sorted_unique(parts: list[IdArray]) -> IdArray:
    """Ascending, each id once (boxes share edges; parts and codes overlap). Sorting and
    masking: np.unique took 50 ms on 112k ids here."""
    if not parts:
        return np.zeros(0, dtype=np.int64)
    ids = np.sort(np.concatenate(parts))
    keep: IdArray = ids[np.concatenate(([True], ids[1:] != ids[:-1]))] if len(ids) else ids
    return keep


def contacts_in_area(
    session: Session,
    area: TargetArea,
    *,
    among: Select[Any] | None = None,
    chunk: int = CHUNK,
    grid: int = 32,
) -> list[int]:
    """The ids (ascending) of contacts inside any polygon or circle of ``area`` or carrying
    one of its area codes; only those ``among`` selects (a query of contact ids, e.g. a list's
    members and a filter) when it is given with conditions."""
    connection = session.connection()
    found: list[IdArray] = []
    for box, part in search_plan(area, grid):
        if part is None:
            found.append(_all_in_box(connection, box))
        else:
            found.extend(_tested_in_box(connection, box, part, chunk))
    if area.codes:
        query = select(Contact.id).where(_codes_clause(connection.dialect.name, area.codes))
        found.append(_ids_of(connection, query))
    ids = _sorted_unique(found)
    if among is not None and among.whereclause is not None:
        ids = ids[np.isin(ids, _ids_of(connection, among))]
    result: list[int] = ids.tolist()
    return result


def select_contact_ids(
    session: Session, area: Mapping[str, Any], candidates: Select[Any]
) -> list[int]:
    """The directory's area selector (``directory.AreaSelector``): the contacts among
    ``candidates`` inside ``area``, the area as stored in a target's spec (``area_to_json``)."""
    return contacts_in_area(session, area_from_json(area, "target area"), among=candidates)
