"""The gunicorn worker's calendar warm-up: the libraries the datasets and attention pages need
are imported before the first such request (a cold import could use up its request deadline)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHECK = """
import sys
from dataplatform.web.gunicorn_worker import warm_calendars
assert "exchange_calendars" not in sys.modules and "holidays" not in sys.modules
warm_calendars()
assert "exchange_calendars" in sys.modules and "holidays" in sys.modules
"""


def test_warm_up_imports_the_calendar_libraries_in_a_fresh_process() -> None:
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", CHECK], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
