"""Configuration readers: every bad or missing value names its variable."""

import pytest

from config.env import ConfigError, env_bool, env_broker, env_choice, env_database, env_int, env_list, env_str


def test_int_bool_list_choice(monkeypatch):
    monkeypatch.setenv("X_PORT", "8090")
    monkeypatch.setenv("X_FLAG", "yes")
    monkeypatch.setenv("X_HOSTS", "a.example, b.example,,")
    monkeypatch.setenv("X_LEVEL", "debug")
    assert env_int("X_PORT", 1) == 8090
    assert env_bool("X_FLAG", False) is True
    assert env_list("X_HOSTS", []) == ["a.example", "b.example"]
    assert env_choice("X_LEVEL", "INFO", ["DEBUG", "INFO"]) == "DEBUG"
    assert env_int("X_UNSET", 7) == 7
    assert env_str("X_UNSET", "d") == "d"


@pytest.mark.parametrize(
    ("reader", "value", "fragment"),
    [
        (lambda: env_int("X", 1), "eighty", "must be an integer"),
        (lambda: env_int("X", 1, maximum=65535), "70000", "at most 65535"),
        (lambda: env_bool("X", False), "maybe", "must be one of"),
        (lambda: env_choice("X", "INFO", ["INFO", "DEBUG"]), "LOUD", "must be one of"),
        (lambda: env_database("X"), "mysql://root@localhost/db", "postgresql://"),
        (lambda: env_database("X"), "postgresql://localhost:5432/", "names no database"),
        (lambda: env_broker("X"), "amqp://guest@localhost//", "redis://"),
    ],
)
def test_bad_values_name_the_variable(monkeypatch, reader, value, fragment):
    monkeypatch.setenv("X", value)
    with pytest.raises(ConfigError) as info:
        reader()
    message = str(info.value)
    assert message.startswith("stagehand: configuration error: X: ")
    assert fragment in message
    assert info.value.variable == "X"


def test_required_value(monkeypatch):
    monkeypatch.delenv("X", raising=False)
    with pytest.raises(ConfigError, match="X: is required"):
        env_str("X", required=True)


def test_database_url_parsed(monkeypatch):
    monkeypatch.setenv("X", "postgresql://u:p@db.example:6543/inventory")
    parsed = env_database("X")
    assert parsed["NAME"] == "inventory"
    assert parsed["HOST"] == "db.example"
    assert int(parsed["PORT"]) == 6543
