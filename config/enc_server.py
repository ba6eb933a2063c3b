"""Start the ``enc`` process: ``python -m config.enc_server [extra server options]``.

granian (Rust HTTP server, WSGI workers with blocking threads) by default: on the classification
path it costs about half the CPU of gunicorn's gthread workers (bench/results/enc.md).
``ENC_SERVER=gunicorn`` starts gunicorn with ``config/gunicorn.py`` as before. Either way the
Prometheus multiprocess directory is prepared first (``config.metrics_bootstrap``), so
``/metrics`` adds up every worker process, and the command is ``exec``'d: signals go straight to
the server (SIGTERM: graceful stop; SIGHUP: graceful respawn of the workers).

Environment (besides the usual ``DATABASE_URL`` & co.):

=========================  ==========  ========================================================
``BIND_HOST``, ``ENC_PORT``  127.0.0.1, 8082  where to listen
``ENC_WORKERS``            2           worker processes
``ENC_THREADS``            4           threads per worker (granian: blocking threads)
``ENC_SERVER``             granian     ``granian`` or ``gunicorn``
``ENC_WORKER_LIFETIME``    0 (off)     granian: respawn each worker after this many seconds
                                       (gunicorn: ``GUNICORN_MAX_REQUESTS``)
``ENC_WORKER_MAX_RSS``     0 (off)     granian: respawn a worker above this many MiB of memory
=========================  ==========  ========================================================

Any other granian setting can be given as its ``GRANIAN_*`` environment variable or as an extra
argument.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from config import metrics_bootstrap
from config.env import ConfigError, env_choice, env_int, env_str

BASE_DIR = Path(__file__).resolve().parent.parent


def command(argv: list[str]) -> list[str]:
    """The server command line for the current environment."""
    bin_dir = Path(sys.executable).parent
    host = env_str("BIND_HOST", "127.0.0.1")
    port = env_int("ENC_PORT", 8082, minimum=1, maximum=65535)
    workers = env_int("ENC_WORKERS", 2, minimum=1)
    threads = env_int("ENC_THREADS", 4, minimum=1)
    if env_choice("ENC_SERVER", "granian", ["granian", "gunicorn"]) == "gunicorn":
        return [
            str(bin_dir / "gunicorn"),
            "config.wsgi",
            "-c",
            str(BASE_DIR / "config" / "gunicorn.py"),
            "--bind",
            f"{host}:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            *argv,
        ]
    lifetime = env_int("ENC_WORKER_LIFETIME", 0, minimum=0)
    max_rss = env_int("ENC_WORKER_MAX_RSS", 0, minimum=0)
    if lifetime and lifetime < 60:
        raise ConfigError("ENC_WORKER_LIFETIME", "must be 0 (off) or at least 60 seconds")
    return [
        str(bin_dir / "granian"),
        "--interface",
        "wsgi",
        "config.wsgi:application",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--blocking-threads",
        str(threads),
        # A worker that dies is replaced; one that does not stop within 20 s of a SIGTERM or
        # SIGHUP is killed (gunicorn's graceful_timeout); a client has 30 s to send its headers.
        "--respawn-failed-workers",
        "--workers-kill-timeout",
        "20",
        "--http1-header-read-timeout",
        "30000",
        # Stagehand's own middleware logs each request (ENC_REQUEST_LOG_LEVEL).
        "--no-access-log",
        "--log-level",
        env_str("LOG_LEVEL", "INFO").lower(),
        *(["--workers-lifetime", str(lifetime)] if lifetime else []),
        *(["--workers-max-rss", str(max_rss)] if max_rss else []),
        *argv,
    ]


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.enc"  # this is the enc process
    args = command(argv)
    metrics_bootstrap.prepare(Path(args[0]).name)
    os.chdir(BASE_DIR)
    os.execv(args[0], args)


if __name__ == "__main__":
    main()
