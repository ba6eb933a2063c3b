"""``make run``: prepare the database and start every process with honcho.

1. Start the embedded PostgreSQL / Redis under ``var/`` when DATABASE_URL / CELERY_BROKER_URL are
   unset (and pass their URLs to the children).
2. Migrate, collect static files, create the first admin user.
3. Run ``honcho start`` on the Procfile (web, ingest, enc, worker, beat) until Ctrl-C or SIGTERM,
   then stop the embedded servers this launcher started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _manage(*args: str, env: dict) -> None:
    subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), *args], env=env, check=True, cwd=BASE_DIR)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from config import embedded
    from config.env import env_broker, env_database, env_int, env_str

    env = dict(os.environ)
    # The Procfile's commands (gunicorn, python -m config.enc_server, celery) come from this virtualenv.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("STAGEHAND_VAR_DIR", str(embedded.VAR_DIR))
    embedded.VAR_DIR.mkdir(parents=True, exist_ok=True)

    started_pg = started_redis = False
    if env_database("DATABASE_URL") is None:
        env["DATABASE_URL"] = embedded.postgres_url()
        started_pg = True
        print(f"stagehand: embedded PostgreSQL under {embedded.PG_DIR}", flush=True)
    if env_broker("CELERY_BROKER_URL") is None:
        env["CELERY_BROKER_URL"] = embedded.ensure_redis()
        started_redis = True
        print(f"stagehand: embedded Redis under {embedded.REDIS_DIR}", flush=True)

    host = env_str("BIND_HOST", "127.0.0.1")
    ports = {
        "web": env_int("WEB_PORT", 8080, minimum=1, maximum=65535),
        "ingest": env_int("INGEST_PORT", 8081, minimum=1, maximum=65535),
        "enc": env_int("ENC_PORT", 8082, minimum=1, maximum=65535),
    }
    try:
        _manage("migrate", "--noinput", env=env)
        _manage("collectstatic", "--noinput", "-v", "0", env=env)
        _manage("ensure_admin", env=env)
        print("stagehand: starting web, ingest, enc, worker and beat", flush=True)
        print(f"  web     UI, REST API, PuppetDB API   http://{host}:{ports['web']}/", flush=True)
        print(f"  ingest  write endpoints only         http://{host}:{ports['ingest']}/pdb/cmd/v1", flush=True)
        print(
            f"  enc     classification               http://{host}:{ports['enc']}/enc/v1/nodes/<certname>", flush=True
        )
        print("  worker  Celery worker; beat  periodic jobs   (Ctrl-C stops everything)", flush=True)
        honcho = [str(Path(sys.executable).parent / "honcho"), "start", "-f", str(BASE_DIR / "Procfile"), *argv]
        child = subprocess.Popen(honcho, env=env, cwd=BASE_DIR)

        def forward(signum, frame):  # SIGTERM from a supervisor: pass it on, then wait
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, forward)
        while True:
            try:
                return_code = child.wait()
                break
            except KeyboardInterrupt:
                # The terminal already sent SIGINT to honcho too; keep waiting for it to stop.
                continue
        return 0 if return_code in (0, -signal.SIGINT, -signal.SIGTERM, 130, 143) else return_code
    finally:
        if started_redis:
            embedded.stop_redis()
        if started_pg:
            embedded.stop_postgres()
        print("stagehand: stopped", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
