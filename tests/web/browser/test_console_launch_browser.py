"""Launch, approval and update in a real Chromium against the real app and store.

The acceptance path: commander Ana launches a playbook that needs approval to a few thousand
imported residents, sees reach per channel in the preview and asks for approval; commander
Cam, in another browser, sees the same preview on a phone-sized screen, approves, and lands
on the incident's dashboard, whose sent counter climbs while the broadcast runs (no provider
is configured, so every message goes to the outbox). Also: the whole form by keyboard only,
located errors, and axe-core's WCAG 2.1 AA check on every page.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_support import Console, axe_problems, running_console, sign_in
from prefect.testing.utilities import prefect_test_harness

from crisiscast.config import Settings
from crisiscast.incidents.audience.csv_import import import_contacts
from crisiscast.playbook.examples import find_example

RESIDENTS = 3_000


@pytest.fixture(scope="module", autouse=True)
def prefect_api() -> Iterator[None]:
    """A throwaway Prefect API for the flows a send runs."""
    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture
def console(tmp_path: Path, sqlite_url: str) -> Iterator[Console]:
    """The console; the flood example with ``approval: required`` in the home's playbooks
    folder; 3,000 residents (Thai, Lao, English, French speakers) on list flood-zone."""
    home = tmp_path / "home"
    (home / "playbooks").mkdir(parents=True)
    example = find_example("regional-flood")
    assert example is not None
    guarded = home / "playbooks" / "guarded-flood.yaml"
    guarded.write_text(example.read_text(encoding="utf-8") + "\napproval: required\n")
    languages = ("th", "lo", "en", "fr")
    csv = tmp_path / "residents.csv"
    rows = [f"Resident {i},+6681{i:07d},{languages[i % 4]}" for i in range(RESIDENTS)]
    csv.write_text("name,phone,language\n" + "\n".join(rows) + "\n", encoding="utf-8")
    with running_console(Settings(home, sqlite_url)) as running:
        with running.app.state.store.session() as session:
            import_contacts(session, csv, default_region="TH", list_name="flood-zone")
        yield running


def counter(page: Any, state: str) -> int:
    return int(page.locator(f"#count-{state}").inner_text().replace(",", ""))


def test_a_launch_needing_approval_is_approved_by_a_second_commander(
    page: Any, browser: Any, console: Console
) -> None:
    sign_in(page, console.base, "ana")
    page.get_by_role("link", name="Launch").click()
    assert axe_problems(page) == []
    page.get_by_label("Playbook").select_option(
        label=f"guarded-flood.yaml ({console.settings.home / 'playbooks'})"
    )
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Area (required)").fill("Mekong riverside")
    page.get_by_label("Peak hours").fill("12")
    page.get_by_label("flood-zone (3,000 contacts)").check()
    page.get_by_label("Live: sent to real people").check()
    page.get_by_role("button", name="Preview").click()
    reach = page.get_by_role("table", name="Reach per channel and language")
    assert reach.locator("tbody tr").count() >= 2  # SMS in Thai, Lao, English at least
    sms_rows = reach.locator("tbody tr", has_text="sms").all_inner_texts()
    assert sum(int(r.split("\t")[2].replace(",", "")) for r in sms_rows) == RESIDENTS
    assert page.get_by_text("Send time").is_visible()
    previewed = page.locator("#preview").text_content()
    assert axe_problems(page) == []

    page.get_by_role("button", name="Request approval").click()
    page.wait_for_url(f"{console.base}/console/approvals/1")
    assert "You asked for this" in page.locator("main").inner_text()
    assert page.get_by_role("button", name="Approve and send").count() == 0
    assert axe_problems(page) == []

    context = browser.new_context(viewport={"width": 360, "height": 740})
    errors: list[str] = []
    cam = context.new_page()
    cam.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        sign_in(cam, console.base, "cam", "/console/approvals")
        assert axe_problems(cam) == []
        cam.get_by_role("link", name="Approval 1").click()
        assert cam.locator("#preview").text_content() == previewed
        assert cam.evaluate("document.documentElement.scrollWidth") <= 360  # fits a phone
        assert axe_problems(cam) == []
        cam.get_by_role("button", name="Approve and send").click()
        cam.wait_for_url(f"{console.base}/console/incidents/INC-1")
        first = counter(cam, "sent") + counter(cam, "delivered")
        deadline = time.monotonic() + 120
        while counter(cam, "sent") + counter(cam, "delivered") < RESIDENTS:
            assert time.monotonic() < deadline, "the sent counter did not reach every resident"
            cam.wait_for_timeout(500)
        assert first < RESIDENTS  # it moved on the open page, refreshed by console.js
    finally:
        context.close()
    assert errors == []


def tab_to(page: Any, selector: str) -> None:
    """Press Tab until ``selector`` has the focus (keyboard only, in the page's order)."""
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_the_launch_form_works_by_keyboard_alone_and_names_errors(
    page: Any, console: Console
) -> None:
    sign_in(page, console.base, "ana", "/console/launch")
    tab_to(page, "#playbook")
    page.keyboard.press("End")  # the home's playbook comes after the examples
    tab_to(page, "main button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/launch?playbook=*")
    tab_to(page, "#param-peak_hours")
    page.keyboard.press("Control+A")
    page.keyboard.type("soon")
    tab_to(page, "input[name='list.flood-zone']")
    page.keyboard.press("Space")
    tab_to(page, "button[name=step]")
    page.keyboard.press("Enter")
    alert = page.get_by_role("alert")
    assert "Area is required: fill it in." in alert.inner_text()
    assert "Peak hours: 'soon' is not an integer" in alert.inner_text()
    assert page.locator("#param-peak_hours").input_value() == "soon"
    assert page.locator("input[name='list.flood-zone']").is_checked()
    assert page.locator("#param-area").get_attribute("aria-invalid") == "true"
    assert axe_problems(page) == []
    alert.get_by_role("link", name="Area is required: fill it in.").press("Enter")
    page.keyboard.type("Mekong riverside")
    assert page.evaluate("document.activeElement.id") == "param-area"
    page.locator("#param-peak_hours").fill("12")
    tab_to(page, "#mode-exercise")
    page.keyboard.press("ArrowDown")
    assert page.locator("#mode-live").is_checked()
    tab_to(page, "button[name=step]")
    page.keyboard.press("Enter")
    page.get_by_role("table", name="Reach per channel and language").wait_for()
    assert page.get_by_role("button", name="Request approval").is_visible()


def test_the_update_page_previews_new_text(page: Any, console: Console) -> None:
    sign_in(page, console.base, "ana", "/console/launch")
    page.get_by_label("Playbook").select_option(index=1)  # regional-flood (example)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Area (required)").fill("Mekong riverside")
    page.get_by_label("flood-zone (3,000 contacts)").check()
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("button", name="Send now").click()  # an exercise: no approval needed
    page.wait_for_url(f"{console.base}/console/incidents/INC-1")
    deadline = time.monotonic() + 120
    while counter(page, "sent") + counter(page, "delivered") < RESIDENTS:
        assert time.monotonic() < deadline, "the launch broadcast did not end"
        page.wait_for_timeout(500)
    page.goto(f"{console.base}/console/incidents/INC-1/update")
    assert axe_problems(page) == []
    page.get_by_label("Text in en (fallback, needed)").fill("The water is going down.")
    page.get_by_role("button", name="Preview").click()
    page.locator("#preview").wait_for()
    assert "The water is going down." in page.locator("#preview").inner_text()
    assert axe_problems(page) == []
