"""Make sure Debian's Chromium is installed, for the web board's browser tests.

    python scripts/chromium.py

Playwright drives ``/usr/bin/chromium`` (``executable_path``), because a browser
download fails on our machines. Missing: installed with ``apt-get install chromium``
when running as root. If it truly cannot be installed this says so loudly and exits 0
(the browser tests then skip, saying why) — except under CI, where that is an error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")


def say(msg: str) -> None:
    print(f"[chromium] {msg}", file=sys.stderr, flush=True)


def main() -> int:
    if CHROMIUM.exists():
        return 0
    if shutil.which("apt-get") and os.geteuid() == 0:
        say("Chromium not found: installing Debian's chromium package")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env, check=False)
    if CHROMIUM.exists():
        return 0
    msg = "Chromium could not be installed: the web board's browser tests will SKIP"
    if os.environ.get("CI"):
        say(msg.replace("will SKIP", "are required under CI") + " — failing")
        return 1
    say(msg)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
