"""Geo-targeted launch end to end: a target area reaches only the contacts inside it, and the
banner's CAP alert carries that area (real Prefect runs, SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from broadcast_support import FLOOD, outbox_addresses
from lxml import etree

from crisiscast.channels.cap_feed import CAP_NS, cap_schema_errors
from crisiscast.flows.launch import launch_incident
from crisiscast.incidents.audience.areas import area_to_json, build_area
from crisiscast.incidents.store.database import Store
from crisiscast.incidents.store.models import Contact

XSD = Path(__file__).resolve().parents[1] / "channels" / "data" / "cap" / "CAP-v1.2.xsd"
RING = "13.6,100.4 13.6,100.7 14.1,100.7 14.1,100.4 13.6,100.4"  # lat,lon (CAP order)
CONTACTS = [
    ("+66810000001", 13.75, 100.50, []),  # inside the polygon
    ("+66810000002", 13.75, 100.80, []),  # east of it
    ("+66810000003", None, None, ["TH-10"]),  # no place, but the area code
    ("+66810000004", None, None, []),  # nowhere
    ("+66810000005", 13.70, 100.45, ["TH-20"]),  # inside the polygon
]


def test_area_target_reaches_only_its_contacts_and_the_cap_alert_names_it(
    db_url: str, home: Path
) -> None:
    store = Store(db_url)
    store.upgrade()
    with store.session() as session:
        session.execute(
            Contact.__table__.insert(),
            [{"phone": phone, "language": "th", "latitude": lat, "longitude": lon,
              "area_codes": codes} for phone, lat, lon, codes in CONTACTS],
        )  # fmt: skip
    store.dispose()
    area = build_area(
        polygons=[RING], codes=["TH-10"], code_scheme="ISO3166-2", description="Riverside"
    )
    ref = launch_incident(
        FLOOD, {"area": "Riverside"}, exercise=True, database_url=db_url,
        target={"area": area_to_json(area)},
    )  # fmt: skip
    sms = outbox_addresses(home / "outbox" / ref / "sms.jsonl")
    assert sms == {"+66810000001": 1, "+66810000003": 1, "+66810000005": 1}
    alerts = sorted((home / "site" / ref / "cap").glob("*.xml"))
    assert alerts, "the banner published no CAP alert"
    xml = alerts[-1].read_bytes()
    assert cap_schema_errors(xml, XSD) == []
    node = etree.fromstring(xml).find(f"{{{CAP_NS}}}info/{{{CAP_NS}}}area")
    assert node is not None
    assert node.findtext(f"{{{CAP_NS}}}areaDesc") == "Riverside"
    assert node.findtext(f"{{{CAP_NS}}}polygon") == RING
    assert node.findtext(f"{{{CAP_NS}}}geocode/{{{CAP_NS}}}value") == "TH-10"
