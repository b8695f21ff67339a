"""Geo-targeting: target areas (GeoJSON, CAP-style polygons and circles, area codes) and the
contacts they select, checked against shapely itself on both stores."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point

from crisiscast.errors import ConfigError
from crisiscast.incidents.audience.area_select import contacts_in_area
from crisiscast.incidents.audience.areas import (
    TargetArea,
    area_contains,
    area_from_json,
    area_option,
    area_to_json,
    build_area,
    cap_circles,
    cap_geocodes,
    cap_polygons,
    haversine_km,
    parse_cap_polygon,
    parse_circle,
    parse_geojson,
    read_geojson,
    search_boxes,
    search_plan,
)
from crisiscast.incidents.store.database import Store
from crisiscast.incidents.store.models import Contact

# A concave flood zone along a river near Bangkok (lon, lat: GeoJSON order) with a dry island
# (a hole), and a second, separate zone: a MultiPolygon.
ZONE = [
    [100.40, 13.60], [100.70, 13.60], [100.70, 14.10], [100.58, 14.10], [100.58, 13.75],
    [100.52, 13.75], [100.52, 14.10], [100.40, 14.10], [100.40, 13.60],
]  # fmt: skip
ISLAND = [[100.45, 13.65], [100.50, 13.65], [100.50, 13.70], [100.45, 13.70], [100.45, 13.65]]
SECOND = [[100.80, 13.90], [100.95, 13.85], [100.90, 14.00], [100.80, 13.90]]
MULTI = {"type": "MultiPolygon", "coordinates": [[ZONE, ISLAND], [SECOND]]}
FEATURES = {
    "type": "FeatureCollection",
    "features": [
        {"type": "Feature", "properties": {"name": "Riverside"},
         "geometry": {"type": "Polygon", "coordinates": [ZONE, ISLAND]}},
        {"type": "Feature", "properties": {"name": "East fields"},
         "geometry": {"type": "Polygon", "coordinates": [SECOND]}},
    ],
}  # fmt: skip


def _cap_text(ring: list[list[float]]) -> str:
    return " ".join(f"{lat},{lon}" for lon, lat in ring)


def _write(tmp_path: Path, data: Any, name: str = "zone.geojson") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


# --- parsing ------------------------------------------------------------------------------------


def test_geojson_is_lon_lat_and_cap_text_is_lat_lon() -> None:
    """The same ring written both ways is the same polygon; the point 13.9 N 100.45 E is in
    it, and the swapped reading (lat 100.45) would not even be on the Earth."""
    from_geojson = parse_geojson({"type": "Polygon", "coordinates": [ZONE]})[0]
    from_cap = parse_cap_polygon(_cap_text(ZONE))
    assert from_geojson.equals(from_cap)
    area = TargetArea("zone", polygons=(from_cap,))
    inside = area_contains(area, np.array([13.9, 13.9]), np.array([100.45, 100.55]))
    assert inside.tolist() == [True, False]  # 100.55 E is in the notch of the concave zone
    # The CAP alert gets the pairs back in CAP order, closed.
    ring = cap_polygons(area)[0]
    assert ring[0] == ring[-1] == (13.60, 100.40)


def test_each_geojson_shape_gives_the_same_area(tmp_path: Path) -> None:
    """Polygon, MultiPolygon, Feature, FeatureCollection; the features' names describe it."""
    multi = parse_geojson(MULTI)
    polygons, names = read_geojson(_write(tmp_path, FEATURES))
    assert MultiPolygon(multi).equals(MultiPolygon(polygons))
    assert names == ["Riverside", "East fields"]
    feature = {"type": "Feature", "properties": {}, "geometry": MULTI}
    assert len(parse_geojson(feature)) == 2
    area = build_area(geojson=_write(tmp_path, FEATURES))
    assert area.description == "Riverside, East fields"


def test_holes_are_left_out() -> None:
    """A contact on the dry island (a hole of the polygon) is not in the area."""
    area = TargetArea("zone", polygons=parse_geojson(MULTI))
    inside = area_contains(area, np.array([13.675, 13.62]), np.array([100.475, 100.475]))
    assert inside.tolist() == [False, True]


def test_circles_use_the_great_circle_distance() -> None:
    """1 degree of latitude is 111.2 km on the mean sphere; at 60 N, 1 degree of longitude
    along the parallel is half that, and the great circle a little shorter; a circle across the
    antimeridian needs two boxes and finds both sides."""
    one_degree = haversine_km(0.0, 0.0, np.array([1.0]), np.array([0.0]))[0]
    assert one_degree == pytest.approx(111.195, abs=0.01)
    at_60 = haversine_km(60.0, 10.0, np.array([60.0]), np.array([11.0]))[0]
    assert at_60 == pytest.approx(55.597, abs=0.001)
    circle = parse_circle("0,179.9 50")
    area = TargetArea("dateline", circles=(circle,))
    assert len(list(search_boxes(area))) == 2
    lats, lons = np.array([0.0, 0.0, 0.0]), np.array([-179.9, 179.0, 0.0])
    assert area_contains(area, lats, lons).tolist() == [True, False, False]
    assert cap_circles(area) == ((0.0, 179.9, 50.0),)


def test_area_codes_and_round_trip_through_json(tmp_path: Path) -> None:
    """What a target stores (area_to_json) comes back as the same area, checked again."""
    area = build_area(
        geojson=_write(tmp_path, MULTI), polygons=[_cap_text(SECOND)], circles=["13.7,100.5 3"],
        codes=["TH-10", " TH-12 ", "TH-10"], code_scheme="ISO3166-2", description="Flood zone",
    )  # fmt: skip
    assert area.codes == ("TH-10", "TH-12")
    assert cap_geocodes(area) == (("ISO3166-2", "TH-10"), ("ISO3166-2", "TH-12"))
    again = area_from_json(json.loads(json.dumps(area_to_json(area))))
    assert again == area
    assert area_option() is None  # no area options: no area
    assert area_option(codes=["TH-10"]) == area_to_json(build_area(codes=["TH-10"]))


# --- errors name where and what to do ------------------------------------------------------------

OPEN_RING = [[100.4, 13.6], [100.7, 13.6], [100.7, 14.1], [100.4, 14.1]]
SWAPPED = [[13.6, 100.4], [13.6, 100.7], [14.1, 100.7], [13.6, 100.4]]
BOWTIE = [[100.0, 13.0], [101.0, 14.0], [101.0, 13.0], [100.0, 14.0], [100.0, 13.0]]
DATELINE = [[179.0, 0.0], [-179.0, 0.0], [-179.0, 1.0], [179.0, 1.0], [179.0, 0.0]]


@pytest.mark.parametrize(
    ("document", "located", "fix"),
    [
        ({"type": "Polygon", "coordinates": [OPEN_RING]}, "coordinates[0]",
         "repeat the first position at the end"),
        ({"type": "Polygon", "coordinates": [SWAPPED]}, "coordinates[0][0]",
         "looks swapped: GeoJSON positions are [longitude, latitude]"),
        ({"type": "Polygon", "coordinates": [OPEN_RING[:2] + OPEN_RING[:1]]}, "coordinates[0]",
         "at least 4 positions"),
        ({"type": "Polygon", "coordinates": [[[11188261.0, 1546130.0]] * 4]},
         "coordinates[0][0]", "reproject a file in metres to EPSG:4326"),
        ({"type": "Polygon", "coordinates": [BOWTIE]}, "coordinates", "Self-intersection"),
        ({"type": "Polygon", "coordinates": [DATELINE]}, "coordinates", "antimeridian"),
        ({"type": "Point", "coordinates": [100.5, 13.7]}, "type", "circle 'lat,lon radius_km'"),
        ({"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ZONE]}},
            {"type": "Feature", "geometry": {"type": "Polygon",
                                             "coordinates": [[[100.4, 13.6], ["x", 13.7]]]}},
        ]}, "features[1].geometry.coordinates[0][1]", "must be numbers"),
        ({"type": "Feature", "geometry": None}, "geometry", "give a Polygon"),
        ({"type": "FeatureCollection", "features": []}, "zone.geojson", "area would be empty"),
    ],
)  # fmt: skip
def test_bad_geojson_says_where_and_how_to_fix(
    tmp_path: Path, document: Any, located: str, fix: str
) -> None:
    path = _write(tmp_path, document)
    with pytest.raises(ConfigError) as caught:
        build_area(geojson=path)
    message = str(caught.value)
    assert message.startswith(str(path)), message
    assert located in message and fix in message, message


def test_unreadable_or_broken_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.geojson: cannot read the area file"):
        build_area(geojson=tmp_path / "missing.geojson")
    path = _write(tmp_path, '{"type": "Polygon",\n "coordinates": [[[100, 13],]]}')
    with pytest.raises(ConfigError, match=r"zone\.geojson:2:\d+: not valid JSON"):
        build_area(geojson=path)


@pytest.mark.parametrize(
    ("polygons", "circles", "codes", "message"),
    [
        ([_cap_text(OPEN_RING)], [], [], "polygon: the ring is open: the first position "
         "13.6,100.4 differs from the last 14.1,100.4; repeat the first"),
        (["13.6,100.4 13.6,100.7 14.1"], [], [], "polygon pair 3: '14.1' is not "
         "'latitude,longitude'"),
        (["100.4,13.6 100.7,13.6 100.7,14.1 100.4,13.6"], [], [], "polygon pair 1: latitude "
         "100.4 / longitude 13.6 is off the Earth"),
        ([], ["13.7,100.5"], [], "circle: '13.7,100.5' is not 'latitude,longitude radius_km'"),
        ([], ["13.7,100.5 -2"], [], "circle: radius -2 km: give kilometres above 0"),
        ([], ["13.7,100.5 5", "95,100 5"], [], "circle 2: latitude 95 / longitude 100"),
        ([], [], ["TH 10"], "area code 'TH 10': give a code without spaces"),
        ([], [], [], "target area is empty"),
    ],
)  # fmt: skip
def test_bad_text_inputs_say_which_one(
    polygons: list[str], circles: list[str], codes: list[str], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_area(polygons=polygons, circles=circles, codes=codes)
    assert message in str(caught.value)


def test_a_swapped_cap_pair_in_range_is_named_as_such() -> None:
    """GeoJSON-ordered pairs pasted as CAP text: lat 100.4 is off the Earth, and swapped fits."""
    with pytest.raises(ConfigError, match="looks swapped: CAP pairs are 'latitude,longitude'"):
        parse_cap_polygon("100.4,13.6 100.7,13.6 100.7,14.1 100.4,13.6")


# --- selection in the store ---------------------------------------------------------------------


def _seed(store: Store, rows: list[dict[str, Any]]) -> None:
    with store.session() as session:
        session.execute(Contact.__table__.insert(), rows)


def _random_contacts(count: int, seed: int = 11) -> list[dict[str, Any]]:
    """Contacts spread over (and around) both zones' bounding box; every 50th has no place."""
    rng = random.Random(seed)
    rows = []
    for i in range(1, count + 1):
        located = i % 50 != 0
        rows.append({
            "id": i, "phone": f"+6681{i:07d}", "language": "th",
            "latitude": rng.uniform(13.5, 14.2) if located else None,
            "longitude": rng.uniform(100.3, 101.0) if located else None,
        })  # fmt: skip
    return rows


def test_polygon_selection_is_exactly_shapelys_contains_on_10000_points(store: Store) -> None:
    """10,000 random contacts: the SQL boxes plus vectorised GEOS select exactly those for
    which shapely's own scalar ``contains`` says yes (concave zone, a hole, two parts)."""
    rows = _random_contacts(10_000)
    _seed(store, rows)
    area = TargetArea("zones", polygons=parse_geojson(MULTI))
    reference = MultiPolygon(parse_geojson(MULTI))
    expected = sorted(
        r["id"] for r in rows
        if r["latitude"] is not None
        and shapely.contains(reference, Point(r["longitude"], r["latitude"]))
    )  # fmt: skip
    assert 1_000 < len(expected) < 9_000  # a real share, neither none nor all
    # The default plan has boxes inside the zone (ids only, untested) and on its edges.
    assert {part is None for _, part in search_plan(area)} == {True, False}
    with store.session() as session:
        assert contacts_in_area(session, area) == expected
        assert contacts_in_area(session, area, chunk=997) == expected  # chunk edges
        for grid in (1, 7, 64):  # one box per polygon (all tested) .. fine grids
            assert contacts_in_area(session, area, grid=grid) == expected


def test_circles_and_area_codes_select_from_the_store(store: Store) -> None:
    rows = [
        {"id": 1, "phone": "+66810000001", "latitude": 13.75, "longitude": 100.50,
         "area_codes": []},  # the centre
        {"id": 2, "phone": "+66810000002", "latitude": 13.75 + 4.9 / 111.195,
         "longitude": 100.50, "area_codes": []},  # 4.9 km north: inside 5 km
        {"id": 3, "phone": "+66810000003", "latitude": 13.75 + 5.1 / 111.195,
         "longitude": 100.50, "area_codes": []},  # 5.1 km north: outside
        {"id": 4, "phone": "+66810000004", "latitude": None, "longitude": None,
         "area_codes": ["TH-20", "TH-10"]},
        {"id": 5, "phone": "+66810000005", "latitude": None, "longitude": None,
         "area_codes": ["TH-1"]},  # not a prefix match
        {"id": 6, "phone": "+66810000006", "latitude": 0.0, "longitude": -179.9,
         "area_codes": []},  # across the antimeridian from the second circle's centre
        {"id": 7, "phone": "+66810000007", "latitude": 13.75, "longitude": 100.50,
         "area_codes": ["TH-10"]},  # in both: selected once
    ]  # fmt: skip
    _seed(store, rows)
    with store.session() as session:
        circle = build_area(circles=["13.75,100.5 5"])
        assert contacts_in_area(session, circle) == [1, 2, 7]
        codes = build_area(codes=["TH-10"])
        assert contacts_in_area(session, codes) == [4, 7]
        both = build_area(circles=["13.75,100.5 5", "0,179.9 50"], codes=["TH-10"])
        assert contacts_in_area(session, both) == [1, 2, 4, 6, 7]


def test_a_target_with_lists_a_filter_and_an_area_reaches_their_intersection(
    store: Store,
) -> None:
    """The directory resolves a target's area through ``select_contact_ids``: only contacts
    on the list, matching the filter, and inside the area (polygon or code) are members."""
    from datetime import UTC, datetime

    from crisiscast.incidents.audience import directory as dr

    rows = _random_contacts(2_000, seed=5)
    for row in rows:
        row["language"] = "th" if row["id"] % 3 else "en"
        row["area_codes"] = ["TH-99"] if row["id"] % 7 == 0 else []
    _seed(store, rows)
    area = build_area(geojson=None, polygons=[_cap_text(ZONE)], codes=["TH-99"])
    reference = parse_cap_polygon(_cap_text(ZONE))
    now = datetime(2026, 12, 4, tzinfo=UTC)
    with store.session() as session:
        riverside = dr.ensure_list(session, "riverside", now=now)
        on_list = [r["id"] for r in rows if r["id"] % 2 == 0]
        dr.add_members(session, riverside.id, on_list)
        spec = dr.TargetSpec(lists=("riverside",), filter="language=th", area=area_to_json(area))
        target = dr.create_target(session, spec, incident_id=None, now=now)
        members = sorted(session.scalars(dr.target_members(session, target)))
        alone = dr.create_target(
            session, dr.TargetSpec(area=area_to_json(area)), incident_id=None, now=now
        )
        everywhere = sorted(session.scalars(dr.target_members(session, alone)))

    def in_area(r: dict[str, Any]) -> bool:
        located = r["latitude"] is not None
        geo = located and shapely.contains(reference, Point(r["longitude"], r["latitude"]))
        return bool(geo) or r["id"] % 7 == 0

    expected = [r["id"] for r in rows if r["id"] % 2 == 0 and r["id"] % 3 and in_area(r)]
    assert members == expected and target.size == len(expected) > 50
    assert everywhere == [r["id"] for r in rows if in_area(r)]


def test_contacts_on_box_and_polygon_edges_follow_shapely(store: Store) -> None:
    """Grid lines and the polygon's own edge: a contact on a shared box edge comes once, one
    on the polygon's edge or corner is out (shapely's ``contains``), as the library says."""
    square = parse_cap_polygon("10,100 10,108 18,108 18,100 10,100")  # grid 4: 2-degree boxes
    points = [(12, 102), (14, 104), (12, 104), (13, 101), (10, 103), (18, 108), (15, 100),
              (11, 107.5), (9.99, 104), (14, 108.01)]  # fmt: skip
    _seed(store, [{"id": i, "phone": f"+6682000000{i}", "latitude": lat, "longitude": lon}
                  for i, (lat, lon) in enumerate(points)])  # fmt: skip
    expected = [i for i, (lat, lon) in enumerate(points) if square.contains(Point(lon, lat))]
    assert expected == [0, 1, 2, 3, 7]
    area = TargetArea("square", polygons=(square,))
    assert any(part is None for _, part in search_plan(area, 4))
    with store.session() as session:
        for grid in (1, 4, 8):
            assert contacts_in_area(session, area, grid=grid) == expected
