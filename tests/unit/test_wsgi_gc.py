"""config.wsgi: each worker freezes what it loaded at startup out of the cyclic collector's reach
(a full collection walking Django and every view module took ~45 ms on a request's time)."""

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def test_importing_the_wsgi_application_freezes_the_startup_objects():
    code = (
        "import gc, time\n"
        "import config.wsgi\n"
        "frozen = gc.get_freeze_count()\n"
        "started = time.perf_counter(); gc.collect(); took = time.perf_counter() - started\n"
        "print(frozen, len(gc.get_objects()), took)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.web"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    frozen, tracked = int(out[0]), int(out[1])
    assert frozen > 50_000  # Django, DRF, the views and the URL configuration
    assert tracked < frozen / 10  # what a full collection still walks
