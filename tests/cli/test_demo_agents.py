"""The demo's agents see the case: the page it prints quotes the customer, and the Thai
customer's answer to the agent's ASK reaches that agent by SMS.

Runs the real `crisiscast demo` in a folder of its own (slow: about a minute and a half).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from crisiscast.config import load_settings
from crisiscast.incidents.agents.case_link import link_secret, verify

ANSWER = "มีผู้สูงอายุ 2 คน"  # the demo's scripted answer to the agent's question


def test_demo_page_quotes_the_customer_and_the_ask_answer_reaches_the_agent(
    tmp_path: Path,
) -> None:
    """The printed page carries the customer's words and a link that verifies; every page in
    the outbox is at most two segments; the answer is texted to the agent who asked."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CRISISCAST_"))}
    env.update({"CRISISCAST_HOME": str(home), "PREFECT_HOME": str(home / "prefect"),
                "COLUMNS": "200"})  # fmt: skip
    run = subprocess.run(
        [sys.executable, "-m", "crisiscast.cli", "demo"], env=env, cwd=tmp_path,
        capture_output=True, encoding="utf-8", timeout=600, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    said = " ".join(run.stdout.split())
    page = said.split("page sent by SMS: ", 1)[1].split(" backlog too high", 1)[0]
    assert '"Water is rising fast, 200 people are trapped on the school roof!"' in page
    assert f"the answer, sent on to the agent by SMS: Case 2 answer: {ANSWER}" in said

    sms = [json.loads(line) for line in (home / "outbox" / "INC-1" / "sms.jsonl").open()]
    pages = [s for s in sms if s["key"].startswith("page:")]
    assert pages and all(s["segments"] <= 2 for s in pages)
    assert pages[0]["encoding"] == "gsm7" and "…" not in pages[0]["text"]
    link = next(word for word in pages[0]["text"].split() if "/c/" in word)
    secret = link_secret(load_settings({"CRISISCAST_HOME": str(home)}))
    assert verify(secret, link.rsplit("/", 1)[1]) is not None
    [relay] = [s for s in sms if s["key"].startswith("relay:")]
    asked = next(s for s in sms if s["key"].startswith("ask:"))
    assert relay["text"] == f"Case 2 answer: {ANSWER}"
    assert relay["address"] != asked["address"]  # to the agent, not back to the customer
    holder = next(s for s in pages if s["key"].startswith("page:2:"))
    assert relay["address"] == holder["address"]  # the agent paged for case 2 asked
