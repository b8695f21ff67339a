"""Take the README's console screenshots from a real run, as a new user would see it.

    python docs/screenshots.py            # writes docs/images/dashboard.png and case-view.png

It plays ``crisiscast demo`` in a new home folder, starts ``crisiscast serve`` on that home,
signs in with the demo commander's printed password in Chromium (Debian's /usr/bin/chromium,
driven by playwright) and photographs the incident's dashboard and its most urgent case.
Nothing leaves the machine: the demo is an exercise and serve listens on 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

IMAGES = Path(__file__).resolve().parent / "images"
CLI = [sys.executable, "-m", "crisiscast.cli"]
CHROMIUM = "/usr/bin/chromium"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="crisiscast-shots-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CRISISCAST_", "PREFECT_"))}
        env |= {"CRISISCAST_HOME": str(Path(tmp) / "home"), "PREFECT_HOME": str(Path(tmp) / "p")}
        demo = subprocess.run([*CLI, "demo"], env=env, cwd=tmp, capture_output=True, text=True,
                              timeout=600, check=True)  # fmt: skip
        said = re.search(r"open http://127\.0\.0\.1:8765(\S+) and sign in as (\S+) with the "
                         r"password (\S+) ", " ".join(demo.stdout.split()))  # fmt: skip
        if said is None:
            sys.exit("the demo did not print the console's sign-in: " + demo.stdout[-800:])
        dashboard, username, password = said.groups()
        port = _free_port()
        serve = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env, cwd=tmp,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_up(base)
            _photograph(base, dashboard, username, password)
        finally:
            serve.terminate()
            serve.wait(timeout=60)


def _photograph(base: str, dashboard: str, username: str, password: str) -> None:
    from playwright.sync_api import sync_playwright

    IMAGES.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(f"{base}/login?next={dashboard}")
        page.fill("#username", username)
        page.fill("#password", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}{dashboard}")
        page.screenshot(path=str(IMAGES / "dashboard.png"))  # the top: what a commander sees first
        ref = dashboard.rsplit("/", 1)[-1]
        page.goto(f"{base}/console/cases?incident={ref}&status=all")
        page.locator("main table a[href^='/console/cases/']").first.click()
        page.wait_for_load_state()
        phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
        phone.context.add_cookies(page.context.cookies())
        phone.goto(page.url)
        phone.screenshot(path=str(IMAGES / "case-view.png"))
        browser.close()
    for name in ("dashboard.png", "case-view.png"):
        print(f"wrote {IMAGES / name}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_up(base: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    sys.exit(f"crisiscast serve did not answer at {base} within {seconds:.0f} s")


if __name__ == "__main__":
    main()
