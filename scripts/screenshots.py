"""Screenshots of the ems dashboard in a real browser: headless Chromium driven by Playwright.

``make screenshots`` runs it (``python -m scripts.screenshots``, from the repository's root): it
starts the demo (``scripts/demo.py``: simulator, Home Assistant, optimizer add-on) in a temporary
directory, waits for the first plan and for some history, logs in through Home Assistant's login
page as the demo user, saves one PNG per view of the ems dashboard in ``docs/screenshots/`` and
stops the demo.

``--url URL`` uses a Home Assistant that already runs the demo (``make demo``) instead. Either
way the key cards are checked: each must render with a value (no error card, nothing
"Unavailable"); with ``--check`` a failed check exits 1 and lists what is wrong (the e2e test
runs it), otherwise it is a warning.

The browser is the system's Chromium (Debian package ``chromium``; ``--chromium PATH`` or
``$EMS_CHROMIUM`` for another one): Playwright's own browser download is never used. Exit code
3 when no Chromium is found.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
import contextlib
from dataclasses import dataclass
import os
from pathlib import Path
import re
import shutil
import signal
import sys
import tempfile
import time
from typing import Any

from scripts import demo

OUT = demo.ROOT / "docs" / "screenshots"
EXIT_NO_CHROMIUM = 3
VIEWPORT = {"width": 1440, "height": 900}
# As docs/HA-NOTES.md says: flags for a headless Chromium in a sandboxed machine.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# The views of dashboards/ems.yaml and of the community view, and their screenshot files.
VIEWS = (
    (demo.DASHBOARD_URL, "site", "dashboard-site.png"),
    (demo.DASHBOARD_URL, "plan", "dashboard-plan.png"),
    (demo.COMMUNITY_DASHBOARD_URL, "community", "dashboard-community.png"),
)

NUMBER = r"-?\d[\d,.]*"
STATES_BAD = ("Unavailable", "Entity not available", "Configuration error", "Unknown")


@dataclass(frozen=True)
class CardCheck:
    """A key card: its element, the text that tells it apart, and the value it must show."""

    view: str
    tag: str  # the card's element, e.g. hui-tile-card
    anchor: str  # text the card starts with (its title or name)
    value: str  # regular expression its text must match
    bad: tuple[str, ...] = STATES_BAD  # texts it must not show
    # CSS selectors (Playwright's, through open shadow roots) that must match in the page.
    selectors: tuple[str, ...] = ()


KEY_CARDS = (
    CardCheck("site", "hui-tile-card", "PV", rf"^PV {NUMBER} W$"),
    CardCheck("site", "hui-tile-card", "House load", rf"^House load {NUMBER} W$"),
    CardCheck("site", "hui-tile-card", "Grid", rf"{NUMBER} W$"),
    CardCheck("site", "hui-tile-card", "Battery", rf"{NUMBER} W$"),
    CardCheck("site", "hui-gauge-card", "", rf"^{NUMBER} ?% Battery SOC$"),
    CardCheck(
        "site",
        "hui-tile-card",
        "Mode",
        r"^Mode (Auto \(plan\)|Self-consumption|Peak shaving|Charge only|External|Backup"
        r"|Passive|Manual)",
    ),
    CardCheck(
        "site",
        "hui-entities-card",
        "Controller and limiter",
        rf"Controller state (Running|Degraded) Limited by \S+.* Battery setpoint {NUMBER} W",
    ),
    CardCheck("site", "hui-entities-card", "Alarms", r"(?i)Battery fault (OK|Problem)"),
    CardCheck("site", "hui-glance-card", "Devices connected", r"Connected"),
    # ems's own chart: an SVG with the plan's steps, its legend and time axis, no "No plan yet".
    CardCheck(
        "plan",
        "ems-plan-card",
        "Power and state of charge",
        r"PV forecast Load forecast .*Battery .*Grid .*State of charge .*\d{1,2}:\d\d",
        bad=("No plan yet", "Not found"),
        selectors=(
            "ems-plan-card svg.plan[data-steps] path.grid-line",
            "ems-plan-card svg.plan[data-steps] polyline.soc-line",
            "ems-plan-card svg.plan[data-steps] line.now",
        ),
    ),
    CardCheck(
        "plan",
        "hui-entities-card",
        "Status",
        rf"Status (Optimal|Feasible|Constraints relaxed|Infeasible) .*Battery \(\+ charge\) "
        rf"{NUMBER} W",
    ),
    CardCheck(
        "plan",
        "hui-markdown-card",
        "Appliance runs",
        r"Appliance runs: Washing machine (\w+ \d\d:\d\d|not planned)",
        bad=("No plan yet",),
    ),
    CardCheck("plan", "hui-calendar-card", "", r"20\d\d", bad=()),
    # The community view (MQTT discovery): the round's figures, the gain, the demo's home.
    CardCheck(
        "community",
        "hui-entities-card",
        "The community, next 24 h",
        rf"Members in the round \d+ .*Planned import \(24 h\) {NUMBER} kWh",
    ),
    CardCheck(
        "community",
        "hui-entities-card",
        "Planning together",
        rf"Import if each home planned alone {NUMBER} kWh Gain from planning together "
        rf"{NUMBER} kWh",
    ),
    CardCheck("community", "hui-entities-card", "Member neighbour1", r"State in the round planned"),
)

# Collects the dashboard's cards (outermost hui-*-card elements, and ems's own ems-*-card) with
# their rendered text,
# through open shadow roots, and the error / warning elements Home Assistant draws instead of
# a card or a row it cannot render.
CARDS_JS = r"""
() => {
  const skip = new Set(['STYLE', 'SCRIPT', 'TEMPLATE']);
  const text = (node) => {
    if (node.nodeType === Node.TEXT_NODE) return node.textContent;
    if (node.nodeType !== Node.ELEMENT_NODE || skip.has(node.tagName)) return '';
    let out = '';
    if (node.shadowRoot) for (const c of node.shadowRoot.childNodes) out += ' ' + text(c);
    for (const c of node.childNodes) out += ' ' + text(c);
    return out;
  };
  const clean = (s) => s.replace(/\s+/g, ' ').trim();
  const cards = [], errors = [];
  const walk = (root, inCard) => {
    for (const el of root.children) {
      const tag = el.tagName.toLowerCase();
      let now = inCard;
      if (['hui-error-card', 'hui-warning', 'hui-warning-element'].includes(tag)) {
        errors.push(clean(text(el)));
      }
      if (!inCard && /^(hui|ems)-.*-card$/.test(tag)) {
        cards.push({tag, text: clean(text(el))});
        now = true;
      }
      if (el.shadowRoot) walk(el.shadowRoot, now);
      walk(el, now);
    }
  };
  walk(document, false);
  return {cards, errors};
}
"""


class ScreenshotError(Exception):
    """The browser could not log in or show the dashboard."""


def find_chromium(explicit: str | None = None) -> str | None:
    """The Chromium to drive: --chromium, $EMS_CHROMIUM, else one on PATH."""
    for candidate in (explicit, os.environ.get("EMS_CHROMIUM")):
        if candidate:
            return candidate if Path(candidate).exists() or shutil.which(candidate) else None
    for name in CHROMIUM_NAMES:
        if found := shutil.which(name):
            return found
    return None


def card_problems(view: str, found: dict[str, Any]) -> list[str]:
    """What is wrong with the key cards of a view (empty when they all show values)."""
    problems = [f"{view}: Home Assistant shows an error: {e!r}" for e in found["errors"]]
    cards = found["cards"]
    for check in (c for c in KEY_CARDS if c.view == view):
        match = [c for c in cards if c["tag"] == check.tag and c["text"].startswith(check.anchor)]
        name = f"{view}: {check.tag} {check.anchor!r}".rstrip(" '")
        if not match:
            problems.append(f"{name}: not rendered")
            continue
        card = match[0]["text"]
        if bad := [word for word in check.bad if word in card]:
            problems.append(f"{name} shows {bad}: {card[:300]!r}")
        elif not re.search(check.value, card):
            problems.append(f"{name} shows no value /{check.value}/: {card[:300]!r}")
        problems += [
            f"{name}: nothing matches {selector!r}"
            for selector in check.selectors
            if not found.get("selectors", {}).get(selector)
        ]
    return problems


def find_cards(page: Any, view: str) -> dict[str, Any]:
    """The view's cards and errors (``CARDS_JS``), and how many elements each selector matches."""
    found: dict[str, Any] = page.evaluate(CARDS_JS)
    found["selectors"] = {
        selector: page.locator(selector).count()
        for check in KEY_CARDS
        if check.view == view
        for selector in check.selectors
    }
    return found


def login(page: Any, base: str, timeout_s: float) -> None:
    """Log in through Home Assistant's login page, as a person would."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError  # noqa: PLC0415

    page.goto(f"{base}/{VIEWS[0][0]}/{VIEWS[0][1]}")
    page.wait_for_url("**/auth/authorize**", timeout=timeout_s * 1000)
    page.locator('input[name="username"]').fill(demo.USERNAME)
    page.locator('input[name="password"]').fill(demo.PASSWORD)
    page.locator('input[name="password"]').press("Enter")
    try:
        page.wait_for_url(f"{base}/{demo.DASHBOARD_URL}/**", timeout=timeout_s * 1000)
        # The frontend trades the login's code for tokens and keeps them ("keep me logged in"):
        # leaving the page before that would land on the login page again.
        page.wait_for_function(
            "() => !!window.localStorage.getItem('hassTokens')", timeout=timeout_s * 1000
        )
        page.locator("hui-view").first.wait_for(state="attached", timeout=timeout_s * 1000)
    except PlaywrightTimeoutError as err:
        raise ScreenshotError(
            f"login as {demo.USERNAME!r} did not reach the dashboard (at {page.url})"
        ) from err


def capture(
    base: str, out: Path, chromium: str, *, timeout_s: float = 60, settle_s: float = 3
) -> list[str]:
    """Log in, then screenshot each view once its key cards show values; the problems left."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    out.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT, timezone_id="Europe/Paris")
            page = context.new_page()
            login(page, base, timeout_s)
            for url_path, view, filename in VIEWS:
                page.goto(f"{base}/{url_path}/{view}")
                if "/auth/" in page.url:
                    raise ScreenshotError(f"{view}: sent back to the login page ({page.url})")
                deadline = time.monotonic() + timeout_s
                while True:  # cards render and values arrive over the websocket
                    page.wait_for_timeout(1000)
                    left = card_problems(view, find_cards(page, view))
                    if not left or time.monotonic() > deadline:
                        break
                page.wait_for_timeout(settle_s * 1000)  # charts finish drawing
                left = card_problems(view, find_cards(page, view))
                problems.extend(left)
                path = out / filename
                page.screenshot(path=str(path), full_page=True)
                print(f"screenshots: {path} ({path.stat().st_size // 1024} KiB)", flush=True)
        finally:
            browser.close()
    return problems


@contextlib.contextmanager
def running_demo(timeout: float, wait_s: float) -> Iterator[str]:
    """Start the demo in a temporary directory, wait for its plan and history; its URL."""
    procs: list[demo.Proc] = []
    echoes: list[demo.LogEcho] = []
    with tempfile.TemporaryDirectory(prefix="ems-screenshots-") as work:
        try:
            args = demo.parse_args(["--dir", str(Path(work) / "demo"), "--timeout", f"{timeout}"])
            running = demo.start(args, procs)
            echoes.extend(running.echoes)
            print(f"screenshots: demo ready: {demo.check(running, timeout)}", flush=True)
            if wait_s > 0:
                print(f"screenshots: letting history build up for {wait_s:.0f} s", flush=True)
                time.sleep(wait_s)
            yield running.base
        finally:
            demo.stop_all(procs, echoes)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running demo's Home Assistant (default: start one)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder (default {OUT})")
    parser.add_argument("--check", action="store_true", help="exit 1 if a key card is wrong")
    parser.add_argument("--chromium", help="Chromium executable (default: $EMS_CHROMIUM, PATH)")
    parser.add_argument(
        "--history",
        type=float,
        default=300,
        help="seconds of history to gather before the shots when starting the demo",
    )
    parser.add_argument("--timeout", type=float, default=180, help="seconds allowed per step")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Take the screenshots; return the exit code."""
    args = parse_args(argv)
    # Ctrl-C and SIGTERM stop the demo this started, even when started with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, demo.raise_interrupt)
    chromium = find_chromium(args.chromium)
    if chromium is None:
        print(
            "screenshots: no Chromium found (tried --chromium, $EMS_CHROMIUM, "
            f"{', '.join(CHROMIUM_NAMES)} on PATH); install Debian's chromium package "
            "(`make browser` does it as root)",
            file=sys.stderr,
        )
        return EXIT_NO_CHROMIUM
    try:
        if args.url:
            problems = capture(args.url.rstrip("/"), args.out, chromium, timeout_s=args.timeout)
        else:
            with running_demo(args.timeout, args.history) as base:
                problems = capture(base, args.out, chromium, timeout_s=args.timeout)
    except (demo.DemoError, ScreenshotError) as err:
        print(f"screenshots: FAILED: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    for problem in problems:
        print(f"screenshots: {'FAILED' if args.check else 'warning'}: {problem}", file=sys.stderr)
    if problems and args.check:
        return 1
    print("screenshots: key cards show values" if not problems else "screenshots: done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
