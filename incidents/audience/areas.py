"""Target areas for geo-targeting: polygons and circles on the map, and/or area codes.

Pure: no store, no network, no clock (``read_geojson`` reads the one file it is given). The
selection that uses an area against the contact directory is in ``audience.area_select``.

An area is the union of its parts:

- polygons, from a GeoJSON file (``Polygon``, ``MultiPolygon``, ``Feature`` or
  ``FeatureCollection`` of those; positions are ``[longitude, latitude]``, RFC 7946) or from
  CAP-style text ``"lat,lon lat,lon ..."`` (CAP 1.2 order: latitude first), a closed ring;
- circles, CAP-style ``"lat,lon radius_km"``;
- area codes (geocodes), matched exactly against each contact's ``area_codes``.

Geometry is held in shapely objects with ``x = longitude, y = latitude`` (the GeoJSON order)
and tested with GEOS (``shapely.contains_xy`` on prepared polygons, vectorised with numpy), never
with a hand-written point-in-polygon. "Inside" is shapely's ``contains``: a point exactly on
the edge is outside. Holes in a GeoJSON polygon are honoured by the selection; CAP 1.2 cannot
express holes, so the alert's ``<polygon>`` carries the outer ring only.

Circles use the haversine distance on a sphere of the IUGG mean Earth radius: exact on the
sphere, within 0.5 % of the WGS 84 ellipsoid (about 50 m on a 10 km radius), valid at any
latitude and across the antimeridian, and vectorised with numpy. A buffer in a projection would
need a projection library (pyproj) and grows wrong with the radius and the latitude in the
simple (equirectangular) one.

Polygons must not cross the antimeridian (180°): split them there, as RFC 7946 section 3.1.9
asks of GeoJSON. ``search_plan`` says which latitude/longitude boxes the database is asked
for: a grid over each polygon (boxes inside it need no test) and each circle's box(es).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import Polygon

from crisiscast.errors import ConfigError

#: IUGG mean Earth radius (km), for the haversine distance of circles.
EARTH_RADIUS_KM = 6371.0088
#: Half the Earth's circumference: no circle is larger.
MAX_RADIUS_KM = 20_015.0
#: The CAP ``<geocode>`` valueName used when the caller names no scheme.
DEFAULT_CODE_SCHEME = "area-code"

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Circle:
    """A circle on the Earth: centre (degrees) and radius (km, along the surface)."""

    lat: float
    lon: float
    radius_km: float


@dataclass(frozen=True)
class Box:
    """A latitude/longitude box (degrees, bounds included): the SQL prefilter of one part."""

    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float


Part: TypeAlias = "Polygon | Circle"


@dataclass(frozen=True)
class TargetArea:
    """Where a broadcast is aimed: the union of ``polygons``, ``circles`` and ``codes``.

    ``polygons`` are shapely polygons in (longitude, latitude), already prepared for fast
    repeated containment tests. ``code_scheme`` is the CAP ``<geocode>`` valueName of the
    codes (e.g. ``ISO3166-2``, ``SAME``, ``postcode``).
    """

    description: str
    polygons: tuple[Polygon, ...] = ()
    circles: tuple[Circle, ...] = ()
    codes: tuple[str, ...] = ()
    code_scheme: str = DEFAULT_CODE_SCHEME

    def __post_init__(self) -> None:
        if not (self.polygons or self.circles or self.codes):
            raise ConfigError(
                "target area is empty: give a GeoJSON file, a polygon 'lat,lon lat,lon ...', "
                "a circle 'lat,lon radius_km' or an area code"
            )
        if not self.description.strip():
            raise ConfigError("target area: the description (CAP areaDesc) must not be empty")
        for polygon in self.polygons:
            shapely.prepare(polygon)

    @property
    def parts(self) -> tuple[Part, ...]:
        """The geometric parts (polygons, then circles)."""
        return (*self.polygons, *self.circles)


# --- errors ---------------------------------------------------------------------------------


def _fail(where: str, message: str) -> ConfigError:
    return ConfigError(f"{where}: {message}")


# --- positions and rings ----------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _check_lat_lon(lat: float, lon: float, where: str, order: str) -> None:
    """Latitude in [-90, 90], longitude in [-180, 180]; a swapped pair is named as such."""
    if -90 <= lat <= 90 and -180 <= lon <= 180:
        return
    swapped = -90 <= lon <= 90 and -180 <= lat <= 180
    hint = (
        f"; it looks swapped: {order}"
        if swapped
        else f"; give WGS 84 degrees, {order} (reproject a file in metres to EPSG:4326)"
    )
    raise _fail(
        where,
        f"latitude {lat:g} / longitude {lon:g} is off the Earth (latitude must be within "
        f"-90..90, longitude within -180..180){hint}",
    )


def _check_ring(ring: Sequence[tuple[float, float]], where: str, shown: Sequence[str]) -> None:
    """At least 4 positions, the first repeated as the last (a closed ring)."""
    if len(ring) < 4:
        raise _fail(
            where,
            f"a ring needs at least 4 positions (3 corners and the first again), got {len(ring)}",
        )
    if ring[0] != ring[-1]:
        raise _fail(
            where,
            f"the ring is open: the first position {shown[0]} differs from the last "
            f"{shown[-1]}; repeat the first position at the end to close it",
        )


def _polygon(
    shell: Sequence[tuple[float, float]],
    holes: Sequence[Sequence[tuple[float, float]]],
    where: str,
) -> Polygon:
    """A valid shapely polygon from (lon, lat) rings, or an error saying what to redraw."""
    lons = [p[0] for p in shell]
    if max(lons) - min(lons) > 180:
        raise _fail(
            where,
            f"the polygon spans {max(lons) - min(lons):g} degrees of longitude; a polygon "
            "crossing the antimeridian (180°) must be split there into two polygons",
        )
    polygon = Polygon(shell, holes)
    if not polygon.is_valid:
        reason = shapely.is_valid_reason(polygon)
        raise _fail(
            where,
            f"the polygon is not valid ({reason}); redraw it so its edges do not cross or "
            "touch, or split it into several polygons",
        )
    if polygon.area == 0:
        raise _fail(where, "the polygon has no area: its corners are all on one line")
    return polygon


# --- GeoJSON ----------------------------------------------------------------------------------


def _geojson_ring(value: Any, where: str) -> list[tuple[float, float]]:
    if not isinstance(value, list):
        raise _fail(where, "a ring must be a list of [longitude, latitude] positions")
    ring: list[tuple[float, float]] = []
    for i, position in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(position, list) or len(position) < 2:
            raise _fail(at, f"{json.dumps(position)} is not a [longitude, latitude] position")
        lon, lat = _number(position[0]), _number(position[1])
        if lon is None or lat is None:
            raise _fail(at, f"{json.dumps(position)}: longitude and latitude must be numbers")
        _check_lat_lon(lat, lon, at, "GeoJSON positions are [longitude, latitude]")
        ring.append((lon, lat))
    _check_ring(ring, where, [json.dumps(list(p)) for p in (ring[0], ring[-1])] if ring else [])
    return ring


def _geojson_polygon(coordinates: Any, where: str) -> Polygon:
    if not isinstance(coordinates, list) or not coordinates:
        raise _fail(where, "a Polygon's coordinates are a list of rings (the outer ring first)")
    rings = [_geojson_ring(r, f"{where}[{i}]") for i, r in enumerate(coordinates)]
    return _polygon(rings[0], rings[1:], where)


def _geometry(geometry: Any, where: str) -> list[Polygon]:
    if not isinstance(geometry, Mapping):
        raise _fail(where, "expected a GeoJSON object with a 'type'")
    kind = geometry.get("type")
    if kind == "FeatureCollection":
        features = geometry.get("features")
        if not isinstance(features, list):
            raise _fail(f"{where}features", "a FeatureCollection needs a 'features' list")
        found: list[Polygon] = []
        for i, feature in enumerate(features):
            found.extend(_geometry(feature, f"{where}features[{i}]."))
        return found
    if kind == "Feature":
        inner = geometry.get("geometry")
        if inner is None:
            raise _fail(f"{where}geometry", "the feature has no geometry; give a Polygon")
        return _geometry(inner, f"{where}geometry.")
    if kind == "GeometryCollection":
        members = geometry.get("geometries")
        if not isinstance(members, list):
            raise _fail(f"{where}geometries", "a GeometryCollection needs a 'geometries' list")
        found = []
        for i, member in enumerate(members):
            found.extend(_geometry(member, f"{where}geometries[{i}]."))
        return found
    coordinates = geometry.get("coordinates")
    if kind == "Polygon":
        return [_geojson_polygon(coordinates, f"{where}coordinates")]
    if kind == "MultiPolygon":
        if not isinstance(coordinates, list) or not coordinates:
            raise _fail(f"{where}coordinates", "a MultiPolygon's coordinates list polygons")
        return [_geojson_polygon(p, f"{where}coordinates[{i}]") for i, p in enumerate(coordinates)]
    hint = " (for a radius around a point, use a circle 'lat,lon radius_km')"
    raise _fail(
        f"{where}type",
        f"{kind!r} cannot be an area: use Polygon, MultiPolygon, Feature or FeatureCollection"
        + (hint if kind in ("Point", "MultiPoint") else ""),
    )


def _names(data: Any) -> list[str]:
    """The ``name`` properties of the features, for the area's description."""
    features = data.get("features", [data]) if isinstance(data, Mapping) else []
    names = []
    for feature in features if isinstance(features, list) else []:
        props = feature.get("properties") if isinstance(feature, Mapping) else None
        if isinstance(props, Mapping) and isinstance(props.get("name"), str):
            names.append(props["name"].strip())
    return [n for n in names if n]


def parse_geojson(data: Any, source: str = "<geojson>") -> tuple[Polygon, ...]:
    """The polygons of a parsed GeoJSON document; errors name ``source`` and the JSON path."""
    polygons = _geometry(data, f"{source}: ")
    if not polygons:
        raise _fail(source, "no Polygon or MultiPolygon found; the area would be empty")
    return tuple(polygons)


def read_geojson(path: Path) -> tuple[tuple[Polygon, ...], list[str]]:
    """The polygons of a GeoJSON file and the ``name`` properties of its features."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _fail(str(path), f"cannot read the area file ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise _fail(str(path), "not UTF-8 text; save the GeoJSON as UTF-8") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(
            f"{path}:{exc.lineno}:{exc.colno}", f"not valid JSON ({exc.msg}); fix the GeoJSON"
        ) from exc
    return parse_geojson(data, str(path)), _names(data)


# --- CAP-style text ---------------------------------------------------------------------------


def _cap_pair(token: str, where: str) -> tuple[float, float]:
    """``"lat,lon"`` as (lat, lon)."""
    parts = token.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        raise _fail(where, f"{token!r} is not 'latitude,longitude' (e.g. '13.75,100.50')") from None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise _fail(where, f"{token!r}: latitude and longitude must be finite numbers")
    _check_lat_lon(lat, lon, where, "CAP pairs are 'latitude,longitude'")
    return lat, lon


def parse_cap_polygon(text: str, source: str = "polygon") -> Polygon:
    """A CAP 1.2 polygon ``"lat,lon lat,lon ..."`` (closed: first pair = last, >= 4 pairs)."""
    tokens = text.split()
    pairs = [_cap_pair(t, f"{source} pair {i + 1}") for i, t in enumerate(tokens)]
    ring = [(lon, lat) for lat, lon in pairs]
    _check_ring(ring, source, [tokens[0], tokens[-1]] if tokens else [])
    return _polygon(ring, [], source)


def parse_circle(text: str, source: str = "circle") -> Circle:
    """A CAP 1.2 circle ``"lat,lon radius_km"``."""
    tokens = text.split()
    if len(tokens) != 2:
        raise _fail(
            source, f"{text!r} is not 'latitude,longitude radius_km' (e.g. '13.75,100.5 5')"
        )
    lat, lon = _cap_pair(tokens[0], source)
    try:
        radius = float(tokens[1])
    except ValueError:
        raise _fail(source, f"radius {tokens[1]!r} is not a number of kilometres") from None
    if not (math.isfinite(radius) and 0 < radius <= MAX_RADIUS_KM):
        raise _fail(source, f"radius {tokens[1]} km: give kilometres above 0, at most 20015")
    return Circle(lat, lon, radius)


def _code(value: str, where: str) -> str:
    code = value.strip()
    if not code or any(c.isspace() for c in code):
        raise _fail(where, f"area code {value!r}: give a code without spaces, like 'TH-10'")
    return code


def build_area(
    *,
    geojson: Path | None = None,
    polygons: Sequence[str] = (),
    circles: Sequence[str] = (),
    codes: Sequence[str] = (),
    code_scheme: str = DEFAULT_CODE_SCHEME,
    description: str | None = None,
) -> TargetArea:
    """The area named by command-line style inputs (each optional, at least one given).

    The description (CAP ``areaDesc``) defaults to the GeoJSON features' names, else a summary
    of the parts.
    """
    shapes: list[Polygon] = []
    summary: list[str] = []
    if geojson is not None:
        found, names = read_geojson(geojson)
        shapes.extend(found)
        summary.append(", ".join(names) if names else f"{geojson.name}")
    for i, text in enumerate(polygons):
        shapes.append(
            parse_cap_polygon(text, f"polygon {i + 1}" if len(polygons) > 1 else "polygon")
        )
    if polygons:
        summary.append(f"{len(polygons)} polygon{'s' if len(polygons) > 1 else ''}")
    rounds = [
        parse_circle(t, f"circle {i + 1}" if len(circles) > 1 else "circle")
        for i, t in enumerate(circles)
    ]
    summary.extend(f"{c.radius_km:g} km around {c.lat:g},{c.lon:g}" for c in rounds)
    clean = tuple(dict.fromkeys(_code(c, "area code") for c in codes))
    if clean:
        summary.append(f"{code_scheme} {' '.join(clean)}")
    if not code_scheme.strip():
        raise _fail("code scheme", "give the codes' scheme (CAP geocode valueName), e.g. 'SAME'")
    return TargetArea(
        description=(description or "; ".join(summary)).strip(),
        polygons=tuple(shapes),
        circles=tuple(rounds),
        codes=clean,
        code_scheme=code_scheme.strip(),
    )


def area_option(
    *,
    geojson: Path | None = None,
    polygons: Sequence[str] = (),
    circles: Sequence[str] = (),
    codes: Sequence[str] = (),
    code_scheme: str = DEFAULT_CODE_SCHEME,
    description: str | None = None,
) -> dict[str, Any] | None:
    """Command-line area options as a target's spec stores them (``TargetSpec.area``): None
    when none is given; checked now, so a bad area fails before an incident is opened."""
    if geojson is None and not (polygons or circles or codes):
        return None
    return area_to_json(
        build_area(
            geojson=geojson, polygons=polygons, circles=circles, codes=codes,
            code_scheme=code_scheme, description=description,
        )
    )  # fmt: skip


# --- containment --------------------------------------------------------------------------------


def haversine_km(lat: float, lon: float, lats: FloatArray, lons: FloatArray) -> FloatArray:
    """Great-circle distances (km) from (lat, lon) to each point, on the mean-radius sphere."""
    phi1 = math.radians(lat)
    phi2 = np.radians(lats)
    half_dphi = (phi2 - phi1) / 2
    half_dlam = np.radians(lons - lon) / 2
    a = np.sin(half_dphi) ** 2 + math.cos(phi1) * np.cos(phi2) * np.sin(half_dlam) ** 2
    result: FloatArray = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
    return result


def part_contains(part: Part, lats: FloatArray, lons: FloatArray) -> BoolArray:
    """Which points (parallel arrays of degrees) are inside one part."""
    if isinstance(part, Circle):
        inside: BoolArray = haversine_km(part.lat, part.lon, lats, lons) <= part.radius_km
        return inside
    return np.asarray(shapely.contains_xy(part, lons, lats), dtype=np.bool_)


def area_contains(area: TargetArea, lats: FloatArray, lons: FloatArray) -> BoolArray:
    """Which points are inside any polygon or circle of ``area`` (codes are not geometric)."""
    inside = np.zeros(lats.shape, dtype=np.bool_)
    for part in area.parts:
        inside |= part_contains(part, lats, lons)
    return inside


def _circle_boxes(circle: Circle) -> list[Box]:
    """The boxes that hold the circle (two when it crosses the antimeridian)."""
    angle = circle.radius_km / EARTH_RADIUS_KM
    dlat = math.degrees(angle)
    lo, hi = circle.lat - dlat, circle.lat + dlat
    if lo <= -90 or hi >= 90 or angle >= math.pi / 2:  # holds a pole: every longitude
        return [Box(max(lo, -90), min(hi, 90), -180, 180)]
    ratio = math.sin(angle) / math.cos(math.radians(circle.lat))
    dlon = 180.0 if ratio >= 1 else math.degrees(math.asin(ratio))
    west, east = circle.lon - dlon, circle.lon + dlon
    if dlon >= 180:
        return [Box(lo, hi, -180, 180)]
    if west < -180:
        return [Box(lo, hi, west + 360, 180), Box(lo, hi, -180, east)]
    if east > 180:
        return [Box(lo, hi, west, 180), Box(lo, hi, -180, east - 360)]
    return [Box(lo, hi, west, east)]


def _polygon_plan(polygon: Polygon, grid: int) -> Iterator[tuple[Box, Part | None]]:
    """A grid over the polygon's box: runs of cells (along each latitude band) inside the
    polygon's interior (None: no test needed), runs on its edge (test against it); cells
    outside it are left out. Cells share edges, so a contact on one may come twice."""
    min_lon, min_lat, max_lon, max_lat = polygon.bounds
    lons = np.linspace(min_lon, max_lon, grid + 1)
    lats = np.linspace(min_lat, max_lat, grid + 1)
    west, south = np.meshgrid(lons[:-1], lats[:-1])
    east, north = np.meshgrid(lons[1:], lats[1:])
    cells = shapely.box(west, south, east, north)  # rows: latitude bands
    # 2: the closed cell is in the interior (contains_properly: not even touching the edge)
    kind = np.where(
        shapely.contains_properly(polygon, cells), 2, shapely.intersects(polygon, cells)
    )
    for row in range(grid):
        col = 0
        while col < grid:
            start, what = col, kind[row, col]
            while col < grid and kind[row, col] == what:
                col += 1
            if what:
                box = Box(float(lats[row]), float(lats[row + 1]), float(lons[start]),
                          float(lons[col]))  # fmt: skip
                yield box, (None if what == 2 else polygon)


def search_plan(area: TargetArea, grid: int = 32) -> Iterator[tuple[Box, Part | None]]:
    """The boxes to ask the database for, each with the part its contacts must be tested
    against, or None when the whole box is inside a polygon (its contacts are in, untested).

    Polygons get a ``grid`` x ``grid`` plan (most contacts of a large area then come back as
    ids only, untested); circles their bounding box(es).
    """
    for polygon in area.polygons:
        yield from _polygon_plan(polygon, grid)
    for circle in area.circles:
        for box in _circle_boxes(circle):
            yield box, circle


def search_boxes(area: TargetArea) -> Iterator[tuple[Box, Part]]:
    """Each geometric part with the box(es) that hold it: what the SQL prefilter asks for."""
    for polygon in area.polygons:
        min_lon, min_lat, max_lon, max_lat = polygon.bounds
        yield Box(min_lat, max_lat, min_lon, max_lon), polygon
    for circle in area.circles:
        for box in _circle_boxes(circle):
            yield box, circle


# --- storage and CAP ------------------------------------------------------------------------------


def area_to_json(area: TargetArea) -> dict[str, Any]:
    """A JSON-ready form of the area (polygons as GeoJSON coordinates, lon/lat) to store."""
    return {
        "description": area.description,
        "polygons": [shapely.geometry.mapping(p)["coordinates"] for p in area.polygons],
        "circles": [[c.lat, c.lon, c.radius_km] for c in area.circles],
        "codes": list(area.codes),
        "code_scheme": area.code_scheme,
    }


def _json_list(value: Any) -> list[Any]:
    """Tuples from ``shapely.geometry.mapping`` and lists from storage, alike."""
    if isinstance(value, list | tuple):
        return [_json_list(v) for v in value]
    return value  # type: ignore[no-any-return]


def area_from_json(data: Mapping[str, Any], source: str = "stored area") -> TargetArea:
    """The area :func:`area_to_json` wrote (checked again, as if typed in)."""
    try:
        polygons = tuple(
            _geojson_polygon(_json_list(p), f"{source}: polygons[{i}]")
            for i, p in enumerate(data.get("polygons", []))
        )
        circles = tuple(
            parse_circle(f"{lat},{lon} {r}", f"{source}: circles[{i}]")
            for i, (lat, lon, r) in enumerate(data.get("circles", []))
        )
        return TargetArea(
            description=str(data["description"]), polygons=polygons, circles=circles,
            codes=tuple(_code(str(c), f"{source}: codes") for c in data.get("codes", [])),
            code_scheme=str(data.get("code_scheme", DEFAULT_CODE_SCHEME)),
        )  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(source, f"malformed ({exc!r}); store it with area_to_json") from exc


def cap_polygons(area: TargetArea) -> tuple[tuple[tuple[float, float], ...], ...]:
    """Each polygon's outer ring as (lat, lon) pairs, CAP's order (holes cannot be said)."""
    return tuple(tuple((lat, lon) for lon, lat in p.exterior.coords) for p in area.polygons)


def cap_circles(area: TargetArea) -> tuple[tuple[float, float, float], ...]:
    """Each circle as (lat, lon, radius_km), CAP's order."""
    return tuple((c.lat, c.lon, c.radius_km) for c in area.circles)


def cap_geocodes(area: TargetArea) -> tuple[tuple[str, str], ...]:
    """Each area code as (valueName, value) for CAP ``<geocode>``."""
    return tuple((area.code_scheme, code) for code in area.codes)
