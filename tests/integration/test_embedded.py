"""The embedded default: PostgreSQL and Redis under a var/ directory, surviving restarts."""

import psycopg
import redis

from config import embedded


def test_embedded_postgres_keeps_data_across_restarts(tmp_path):
    pg_dir = tmp_path / "postgres"
    try:
        db = embedded.postgres_settings(pg_dir)
        assert db["NAME"] == "stagehand"
        url = embedded.postgres_url(pg_dir)
        with psycopg.connect(host=db["HOST"], port=db["PORT"] or None, user="postgres", dbname="stagehand") as conn:
            conn.execute("CREATE TABLE kept (v text)")
            conn.execute("INSERT INTO kept VALUES ('still here')")
        embedded.stop_postgres(pg_dir)
        assert not (pg_dir / "postmaster.pid").exists()
        db = embedded.postgres_settings(pg_dir)  # starts it again on the same data
        assert embedded.postgres_url(pg_dir) == url
        with psycopg.connect(host=db["HOST"], port=db["PORT"] or None, user="postgres", dbname="stagehand") as conn:
            assert conn.execute("SELECT v FROM kept").fetchone() == ("still here",)
    finally:
        embedded.stop_postgres(pg_dir)


def test_embedded_redis_keeps_data_across_restarts(tmp_path):
    redis_dir = tmp_path / "redis"
    try:
        url = embedded.ensure_redis(redis_dir)
        assert url == f"redis+socket://{redis_dir / 'redis.sock'}"
        client = redis.Redis(unix_socket_path=str(embedded.redis_socket(redis_dir)))
        client.rpush("queued", "a", "b")
        embedded.stop_redis(redis_dir)
        assert not embedded._redis_alive(redis_dir)
        embedded.ensure_redis(redis_dir)
        client = redis.Redis(unix_socket_path=str(embedded.redis_socket(redis_dir)))
        assert client.lrange("queued", 0, -1) == [b"a", b"b"]
    finally:
        embedded.stop_redis(redis_dir)
