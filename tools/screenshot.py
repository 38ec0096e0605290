"""Screenshot a sample digest's HTML part at phone and desktop widths with headless Chromium.

    python tools/screenshot.py [--out preview/shots] [--html some.html] [--dark]

Needs Debian's `chromium` on PATH; the test suite never calls this. With --dark the page is
rendered with prefers-color-scheme: dark forced, to check the dark-mode styles.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "email"))

WIDTHS = {"phone": (390, 2400), "desktop": (1200, 2000)}


def sample_html() -> str:
    from email_helpers import hostile_digest, typical_digest

    from digest.compose.render import make_environment, render_digest
    from digest.config.settings import RenderSettings

    settings = RenderSettings(
        subject_template="{count} new papers for you - {date:%a %d %b}",
        intro_markdown="Good morning! Today's picks from **arXiv** and Hugging Face.",
        footer_markdown="Sent by the [ML lab digest](https://lab.example.org).",
    )
    env = make_environment()
    html = render_digest(typical_digest(), settings, env).html
    # Append the hostile sample's body so escaping is visible too.
    hostile = render_digest(hostile_digest(), settings, env).html
    return html.replace("</body>", hostile.split("<body", 1)[1].split(">", 1)[1])


def shoot(chromium: str, html_file: Path, png: Path, width: int, height: int, dark: bool) -> None:
    with tempfile.TemporaryDirectory() as profile:
        args = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            f"--window-size={width},{height}",
        ]
        if dark:
            args += ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"]
        args.append(html_file.resolve().as_uri())
        subprocess.run(args, check=True, capture_output=True, timeout=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "preview" / "shots")
    parser.add_argument("--html", type=Path, help="an HTML file to shoot instead of the sample")
    parser.add_argument("--dark", action="store_true", help="force prefers-color-scheme: dark")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("chromium not found; apt-get install -y chromium", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    html_file = args.html or args.out / "sample.html"
    if not args.html:
        html_file.write_text(sample_html(), encoding="utf-8")
    suffix = "-dark" if args.dark else ""
    for name, (width, height) in WIDTHS.items():
        png = args.out / f"{name}{suffix}.png"
        shoot(chromium, html_file, png, width, height, args.dark)
        print(png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
