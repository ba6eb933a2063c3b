"""Run the real ``puppet`` (Debian's puppet-agent) in directories of the test's own."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

PUPPET = shutil.which("puppet") or "/usr/bin/puppet"


def run_puppet(
    args: list[str], *, conf: Path, var: Path, code: Path, log: Path, run: Path, env=None, timeout: float = 180
) -> subprocess.CompletedProcess:
    """``puppet <args>`` with its confdir, vardir, codedir, logdir and rundir under the test's tmp."""
    argv = [PUPPET, *args, "--confdir", str(conf), "--vardir", str(var), "--codedir", str(code)]
    argv += ["--logdir", str(log), "--rundir", str(run)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
