"""Geo-targeting benchmark: which of N contacts (SQLite) are inside a target area.

Prints, from one run on the same machine:
- ``contacts_in_area`` for a 24-corner flood-zone polygon holding about 10 % of the contacts,
  for an octagon whose box holds every contact (the worst case), for a 15 km circle, and for
  one area code. Polygons are asked for as a 32 x 32 grid of boxes on the (latitude,
  longitude) index: boxes inside return ids only, boxes on the edge are tested with shapely's
  ``contains_xy``;
- baselines in the same run: the octagon as one box whose every contact is tested (grid=1);
  for the flood zone, the bare bounding-box ``count(*)`` in SQL (the index read alone, a
  floor), its candidates fetched with stdlib sqlite3 and tested by pure-Python ray casting (a
  hand-written point-in-polygon), and no prefilter (every contact through shapely);
- the containment test alone on the candidates already in memory: shapely against ray casting;
- peak RSS.

Run:  python bench/area_select.py --contacts 1000000
Contacts are seeded with sqlite3 executemany (setup, not timed), uniformly over a 4 x 4 degree
box around Bangkok. Each timing is the median of ``--runs`` runs (the first run included).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

# The box the contacts live in (degrees) and the flood zone's centre.
SOUTH, NORTH, WEST, EAST = 12.0, 16.0, 98.5, 102.5
CENTRE = (14.0, 100.5)
CODE = "TH-10"


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def flood_zone() -> str:
    """A 24-corner irregular polygon as CAP text (lat,lon ...), about 10 % of the box."""
    rng = random.Random(11)
    corners = []
    for i in range(24):
        angle = 2 * math.pi * i / 24
        radius = 0.75 * (0.8 + 0.4 * rng.random())
        # stretched along the river (north-south), squeezed across it
        corners.append((CENTRE[0] + 1.3 * radius * math.sin(angle),
                        CENTRE[1] + 0.8 * radius * math.cos(angle)))  # fmt: skip
    corners.append(corners[0])
    return " ".join(f"{lat:.6f},{lon:.6f}" for lat, lon in corners)


def region_octagon() -> str:
    """An octagon inscribed in the whole box (about 83 % of the contacts): the worst case,
    every contact is a candidate of the bounding box."""
    (lat0, lon0), half = CENTRE, (NORTH - SOUTH) / 2
    corners = [(lat0 + half * math.sin(math.pi / 8 + i * math.pi / 4) / math.cos(math.pi / 8),
                lon0 + half * math.cos(math.pi / 8 + i * math.pi / 4) / math.cos(math.pi / 8))
               for i in range(8)]  # fmt: skip
    corners.append(corners[0])
    return " ".join(f"{lat:.6f},{lon:.6f}" for lat, lon in corners)


def _contacts(count: int) -> Iterator[tuple[str, str, float, float, str]]:
    rng = random.Random(7)
    for i in range(count):
        codes = json.dumps([CODE] if i % 20 == 0 else ["TH-20"])
        yield ("all", f"+668{i:08d}", rng.uniform(SOUTH, NORTH), rng.uniform(WEST, EAST), codes)


def seed(db: Path, count: int) -> None:
    """Upgrade a new store and insert ``count`` located contacts (not timed)."""
    from crisiscast.incidents.store.database import upgrade

    upgrade(f"sqlite:///{db}")
    connection = sqlite3.connect(db)
    with connection:
        connection.executemany(
            "INSERT INTO contacts (audience, phone, latitude, longitude, area_codes) "
            "VALUES (?, ?, ?, ?, ?)",
            _contacts(count),
        )
    connection.execute("ANALYZE")
    connection.close()


def timed(runs: int, work: Callable[[], int]) -> tuple[float, int]:
    """Median seconds of ``runs`` calls and what the last one returned."""
    seconds, result = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def ray_casting(ring: Sequence[tuple[float, float]], x: float, y: float) -> bool:
    """The hand-written point-in-polygon the library replaces (even-odd rule), for comparison."""
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import numpy as np
    import shapely

    from crisiscast.incidents.audience.area_select import contacts_in_area
    from crisiscast.incidents.audience.areas import build_area, search_boxes
    from crisiscast.incidents.store.database import Store

    with tempfile.TemporaryDirectory(prefix="crisiscast-area-") as tmp:
        db = Path(tmp) / "bench.db"
        start = time.perf_counter()
        seed(db, args.contacts)
        print(f"seeded {args.contacts:,} contacts in {time.perf_counter() - start:.1f} s "
              "(not timed below)")  # fmt: skip

        polygon_area = build_area(polygons=[flood_zone()], description="Flood zone")
        region_area = build_area(polygons=[region_octagon()], description="Region")
        circle_area = build_area(circles=[f"{CENTRE[0]},{CENTRE[1]} 15"])
        code_area = build_area(codes=[CODE], code_scheme="ISO3166-2")
        box = next(iter(search_boxes(polygon_area)))[0]
        ring = list(polygon_area.polygons[0].exterior.coords)  # (lon, lat)

        store = Store(f"sqlite:///{db}")
        raw = sqlite3.connect(db)
        bbox_sql = ("FROM contacts WHERE latitude BETWEEN ? AND ? "
                    "AND longitude BETWEEN ? AND ?")  # fmt: skip
        bbox_args = (box.min_lat, box.max_lat, box.min_lon, box.max_lon)

        def select(area: object, grid: int = 32) -> Callable[[], int]:
            def work() -> int:
                with store.session() as session:
                    found = contacts_in_area(session, area, grid=grid)  # type: ignore[arg-type]
                    return len(found)

            return work

        def bbox_count() -> int:
            return int(raw.execute(f"SELECT count(*) {bbox_sql}", bbox_args).fetchone()[0])

        def bbox_ray() -> int:
            rows = raw.execute(f"SELECT id, latitude, longitude {bbox_sql}", bbox_args)
            return sum(1 for _, lat, lon in rows if ray_casting(ring, lon, lat))

        candidates = raw.execute(f"SELECT id, latitude, longitude {bbox_sql}", bbox_args).fetchall()
        cand_lat = np.array([c[1] for c in candidates])
        cand_lon = np.array([c[2] for c in candidates])
        polygon = polygon_area.polygons[0]

        def test_shapely() -> int:
            return int(shapely.contains_xy(polygon, cand_lon, cand_lat).sum())

        def test_ray() -> int:
            return sum(1 for _, lat, lon in candidates if ray_casting(ring, lon, lat))

        def no_prefilter() -> int:
            rows = raw.execute("SELECT id, latitude, longitude FROM contacts").fetchall()
            table = np.array(rows, dtype=np.float64)
            inside = shapely.contains_xy(polygon_area.polygons[0], table[:, 2], table[:, 1])
            return int(inside.sum())

        plan = [
            ("contacts_in_area: flood-zone polygon", select(polygon_area)),
            ("contacts_in_area: octagon over the whole box", select(region_area)),
            ("contacts_in_area: 15 km circle (bbox + haversine)", select(circle_area)),
            ("contacts_in_area: one area code (json_each)", select(code_area)),
            (
                "baseline: the octagon as one box, every contact tested (grid=1)",
                select(region_area, grid=1),
            ),
            ("baseline: bare bbox count(*) in SQL (index only)", bbox_count),
            ("baseline: flood zone, bbox rows (sqlite3) + pure-Python ray casting", bbox_ray),
            ("test only, candidates in memory: shapely contains_xy (prepared)", test_shapely),
            ("test only, candidates in memory: pure-Python ray casting", test_ray),
            ("baseline: flood zone, no prefilter, all rows + shapely", no_prefilter),
        ]
        print(f"polygon bbox holds {bbox_count():,} candidates; --runs {args.runs}, median")
        print("| what | seconds | contacts | share |\n| --- | ---: | ---: | ---: |")
        rss_selection = 0.0
        for name, work in plan:
            seconds, found = timed(args.runs, work)
            share = 100 * found / args.contacts
            print(f"| {name} | {seconds:.3f} | {found:,} | {share:.1f} % |", flush=True)
            if name.startswith("contacts_in_area: one area code"):
                rss_selection = peak_rss_mb()
        raw.close()
        store.dispose()
    print(f"peak RSS {rss_selection:.0f} MB after the contacts_in_area runs (seeding included), "
          f"{peak_rss_mb():.0f} MB after the baselines; python {sys.version.split()[0]}, "
          f"shapely {shapely.__version__}, numpy {np.__version__}, "
          f"SQLite {sqlite3.sqlite_version}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
