"""Full-page screenshot of a report.html (how docs/report.png is made).

    .venv/bin/python -m vtxlib run "$(.venv/bin/python -m vtxlib.testing.samples)" --out out
    .venv/bin/python tools/report_screenshot.py out/<media_id>/report.html docs/report.png

Opens the report in headless Chromium (Debian's, through playwright) 1400 px wide, plays from the
word WORD (default: the 12th) for a moment so the highlight, the caption line and the playhead
show, hovers that word on the timeline, and saves the whole page.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from vtxlib.testing.static_server import StaticServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--word", type=int, default=11)
    args = parser.parse_args()
    if shutil.which("chromium") is None:
        sys.exit("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with StaticServer(args.report.parent) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True)
        page = browser.new_page(viewport={"width": args.width, "height": 900})
        page.goto(server.url + args.report.name)
        page.wait_for_function("document.getElementById('timeline') && document.getElementById('timeline').vtx")
        word = page.locator(".w").nth(args.word)
        word.click()
        page.wait_for_timeout(600)
        page.evaluate("document.getElementById('player').pause()")
        start = page.evaluate("document.getElementById('player').currentTime")
        plot = page.locator("#timeline .vtx-plot").bounding_box()
        duration = page.evaluate("JSON.parse(document.querySelector('.vtx-data').textContent).duration")
        page.mouse.move(plot["x"] + start / duration * plot["width"], plot["y"] + 40 + 23)
        page.wait_for_timeout(200)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(args.output), full_page=True)
        browser.close()
    print(f"{args.output}: {args.output.stat().st_size / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
