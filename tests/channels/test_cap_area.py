"""CAP 1.2 ``<area>``: a broadcast's target area (polygon, circle, geocodes) in every
``<info>``, in CAP's order (latitude first), and the alert still validates against the XSD."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from crisiscast.channels.banner import BannerSite, publish_banner, take_down
from crisiscast.channels.banner_state import BannerState, Route, Wording
from crisiscast.channels.cap_feed import CAP_NS, AlertMeta, CapArea, build_cap, cap_schema_errors
from crisiscast.errors import PermanentChannelError
from crisiscast.incidents.audience.areas import (
    build_area,
    cap_circles,
    cap_geocodes,
    cap_polygons,
)

XSD = Path(__file__).resolve().parent / "data" / "cap" / "CAP-v1.2.xsd"
T0 = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
NS = {"cap": CAP_NS}
SITE = BannerSite("https://status.example.com/inc-7/", "alerts@example.com", "Example Co")
# The area as the flow builds it from a target area: CAP-style text in, CAP order out.
RING = "13.6,100.4 13.6,100.7 14.1,100.7 14.1,100.4 13.6,100.4"


@pytest.fixture
def state() -> BannerState:
    return BannerState(
        incident="INC-7", title="River flood", headline="Move to higher ground",
        body="The river is rising.", level="critical", language="en",
        routes=(Route("emergency", "Emergency line", "phone", "+6621234567", "24/7"),),
        sent=T0, updated=T0,
        translations=(Wording("th", "น้ำท่วม", "ขึ้นที่สูง", "น้ำกำลังขึ้น"),),
    )  # fmt: skip


@pytest.fixture
def area() -> CapArea:
    target = build_area(
        polygons=[RING], circles=["13.75,100.5 5.5"], codes=["TH-10", "TH-12"],
        code_scheme="ISO3166-2", description="Riverside districts, Bangkok",
    )  # fmt: skip
    return CapArea(
        target.description, cap_polygons(target), cap_circles(target), cap_geocodes(target)
    )


def _areas(xml: bytes) -> list[etree._Element]:
    return etree.fromstring(xml).findall("cap:info/cap:area", NS)


def test_alert_with_an_area_validates_and_says_where(state: BannerState, area: CapArea) -> None:
    meta = AlertMeta("INC-7-1", "alerts@example.com", "Example Co", "Alert", area=area)
    xml = build_cap(state, meta, T0)
    assert cap_schema_errors(xml, XSD) == []
    areas = _areas(xml)
    assert len(areas) == 2  # one per <info>, i.e. per language
    node = areas[0]
    assert node.findtext("cap:areaDesc", namespaces=NS) == "Riverside districts, Bangkok"
    polygon = node.findtext("cap:polygon", namespaces=NS)
    assert polygon == RING  # lat,lon pairs, space-separated, first = last
    assert node.findtext("cap:circle", namespaces=NS) == "13.75,100.5 5.5"
    codes = [
        (g.findtext("cap:valueName", namespaces=NS), g.findtext("cap:value", namespaces=NS))
        for g in node.findall("cap:geocode", NS)
    ]
    assert codes == [("ISO3166-2", "TH-10"), ("ISO3166-2", "TH-12")]


def test_area_is_optional_and_codes_alone_validate(state: BannerState) -> None:
    plain = build_cap(state, AlertMeta("INC-7-1", "a@example.com", "Ex", "Alert"), T0)
    assert _areas(plain) == [] and cap_schema_errors(plain, XSD) == []
    codes = CapArea("Bang Rak", geocodes=(("ISO3166-2", "TH-10"),))
    xml = build_cap(state, AlertMeta("INC-7-1", "a@example.com", "Ex", "Alert", area=codes), T0)
    assert cap_schema_errors(xml, XSD) == []


@pytest.mark.parametrize(
    ("area", "problem"),
    [
        (CapArea("x", polygons=(((13.6, 100.4), (13.6, 100.7), (14.1, 100.7), (14.1, 100.4)),)),
         "polygon 1: give >= 4 pairs, the first repeated as the last"),
        (CapArea("x", circles=((13.7, 100.5, 0.0),)), "radius 0.0 km must be above 0"),
        (CapArea("x", circles=((100.5, 13.7, 1.0),)), "point 100.5,13.7: latitude within"),
        (CapArea(" ", geocodes=(("ISO3166-2", "TH-10"),)), "areaDesc: describe the area"),
    ],
)  # fmt: skip
def test_areas_breaking_cap_rules_the_xsd_misses_are_refused(
    state: BannerState, area: CapArea, problem: str
) -> None:
    meta = AlertMeta("INC-7-1", "a@example.com", "Ex", "Alert", area=area)
    with pytest.raises(PermanentChannelError) as caught:
        build_cap(state, meta, T0)
    assert str(caught.value).startswith("CAP <area>: ") and problem in str(caught.value)


def test_published_banner_alerts_carry_the_area(
    tmp_path: Path, state: BannerState, area: CapArea
) -> None:
    """The banner's CAP file has the area, and so does the all-clear when it is passed on."""
    first = publish_banner(tmp_path, state, SITE, area=area)
    ended = take_down(tmp_path, SITE, T0.replace(hour=12), area=area)
    for alert in (first, ended):
        xml = (tmp_path / alert.cap_name).read_bytes()
        assert cap_schema_errors(xml, XSD) == []
        assert _areas(xml)[0].findtext("cap:polygon", namespaces=NS) == RING
