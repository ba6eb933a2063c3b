"""The ``stagehand-enc`` client script, run as Puppet runs it (a subprocess, certname last) against
a real ``enc`` gunicorn process: facts from Puppet's fact cache are sent, YAML printed, a last-good
copy kept and served with a warning when Stagehand is unreachable; settings from flags, the
environment and a config file; conflicts and auth errors fail the run."""

import importlib.machinery
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from enc import service
from enc.models import NodeGroup
from inventory.models import Node
from tests.integration.enc_fixtures import ROOT, make_node, token
from tests.support.stack import BASE_DIR, free_port, running, service_env, start_service

CLIENT = BASE_DIR / "enc" / "client" / "stagehand-enc"
FIXTURES = BASE_DIR / "tests" / "fixtures" / "enc"


def load_client():
    loader = importlib.machinery.SourceFileLoader("stagehand_enc_client", str(CLIENT))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


class RubyTagLoader(yaml.SafeLoader):
    pass


RubyTagLoader.add_multi_constructor("!ruby/object:", lambda loader, suffix, node: loader.construct_mapping(node))


@pytest.mark.parametrize("name", ["puppet-facts-debian12.yaml", "tricky-facts.yaml"])
def test_builtin_yaml_reader_agrees_with_pyyaml_on_puppet_fact_files(name):
    client = load_client()
    text = (FIXTURES / name).read_text()
    ours = client.load_yaml(text)
    reference = yaml.load(text, Loader=RubyTagLoader)  # noqa: S506 - SafeLoader subclass
    # PyYAML turns unquoted timestamps into datetimes; the client keeps them as text.
    for doc in (ours, reference):
        for key in ("timestamp", "expiration"):
            doc.pop(key, None)
        doc["values"].pop("ts", None)
    assert ours == reference


def test_read_fact_file_builds_the_request(tmp_path):
    client = load_client()
    body = client.read_fact_file(str(FIXTURES / "puppet-facts-debian12.yaml"))
    assert body["facts"]["os"]["family"] == "Debian"
    assert body["producer_timestamp"] == "2026-11-21T20:42:01.536696+00:00"
    assert client.read_fact_file(str(tmp_path / "absent.yaml")) is None


def run(args, env=None, check_rc=None):
    result = subprocess.run(
        [sys.executable, str(CLIENT), *args], capture_output=True, text=True, env=env or dict(os.environ), timeout=60
    )
    if check_rc is not None:
        assert result.returncode == check_rc, result.stderr
    return result


@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_client_against_a_running_enc(tmp_path, artifacts_dir):
    raw, _ = token(["classify"], "puppetserver")
    service.create_group(
        {
            "name": "debian",
            "parent": ROOT,
            "rule": ["=", ["fact", "os", "family"], "Debian"],
            "classes": {"ntp": {"servers": ["0.debian.pool"]}},
            "variables": {"site": "ams"},
        },
        actor="t",
    )
    service.create_group(
        {
            "name": "production",
            "parent": ROOT,
            "rule": ["~", "name", "."],
            "environment": "production",
            "environment_trumps": True,
        },
        actor="t",
    )
    vardir = tmp_path / "vardir"
    facts_dir = vardir / "yaml" / "facts"
    facts_dir.mkdir(parents=True)
    (facts_dir / "facts.example.yaml").write_text((FIXTURES / "puppet-facts-debian12.yaml").read_text())
    cache_dir = tmp_path / "cache"
    token_file = tmp_path / "token"
    token_file.write_text(raw + "\n")

    enc = start_service("enc", service_env(tmp_path), artifacts_dir)
    config = tmp_path / "stagehand-enc.conf"
    config.write_text(
        f"[stagehand-enc]\nurl = {enc.url}\ntoken_file = {token_file}\ntimeout = 5\n"
        f"vardir = {vardir}\ncache_dir = {cache_dir}\n"
    )
    base = ["--config", str(config)]
    with running(enc):
        # 1. Facts from the fact cache are POSTed and stored; the YAML is printed and kept.
        out = run([*base, "facts.example"], check_rc=0)
        data = yaml.safe_load(out.stdout)
        assert data == {
            "classes": {"ntp": {"servers": ["0.debian.pool"]}},
            "parameters": {"site": "ams"},
            "environment": "production",
        }
        assert out.stderr == ""
        node = Node.objects.get(certname="facts.example")
        assert node.factset.facts["os"]["family"] == "Debian"
        assert (cache_dir / "facts.example.yaml").read_text() == out.stdout

        # 2. --no-environment (flag, env variable) drops the environment.
        no_env = yaml.safe_load(run([*base, "--no-environment", "facts.example"], check_rc=0).stdout)
        assert "environment" not in no_env and no_env["classes"]
        env = dict(os.environ, STAGEHAND_ENC_NO_ENVIRONMENT="true")
        assert "environment" not in yaml.safe_load(run([*base, "facts.example"], env=env, check_rc=0).stdout)

        # 3. A node without a fact file is classified with its stored facts (GET).
        make_node("stored.example", {"os": {"family": "Debian"}})
        assert "ntp" in yaml.safe_load(run([*base, "stored.example"], check_rc=0).stdout)["classes"]

        # 4. Flags beat the environment, which beats the config file.
        env = dict(os.environ, STAGEHAND_ENC_URL="http://127.0.0.1:9")
        assert run([*base, "stored.example"], env=env).returncode == 0  # served from last-good (env url dead)
        assert "WARNING" in run([*base, "stored.example"], env=env).stderr
        assert run([*base, "--url", enc.url, "stored.example"], env=env, check_rc=0).stderr == ""

        # 5. Errors Stagehand answers fail the run: bad token, conflict (even with a last-good copy).
        bad = run([*base, "--token", "sth_wrong", "stored.example"])
        assert bad.returncode == 1 and "HTTP 401" in bad.stderr and bad.stdout == ""
        NodeGroup.objects.create(
            name="other", parent_id=ROOT, rule=["=", "name", "stored.example"], classes={"ntp": {"servers": ["other"]}}
        )
        from enc.models import ClassificationState

        ClassificationState.objects.filter(id=1).update(version=10_000)
        conflict = run([*base, "stored.example"])
        assert conflict.returncode == 1 and "classification conflict" in conflict.stderr
        assert "'debian'" in conflict.stderr and "'other'" in conflict.stderr and conflict.stdout == ""
        NodeGroup.objects.filter(name="other").delete()
        ClassificationState.objects.filter(id=1).update(version=10_001)

    # 6. Stagehand down: the last-good copy is served with a warning; without one, exit 1.
    stale = run([*base, "facts.example"])
    assert stale.returncode == 0
    assert yaml.safe_load(stale.stdout)["classes"] == {"ntp": {"servers": ["0.debian.pool"]}}
    assert "WARNING" in stale.stderr and "last-good" in stale.stderr
    assert "environment" not in yaml.safe_load(run([*base, "--no-environment", "facts.example"]).stdout)
    never = run([*base, "never-seen.example"])
    assert never.returncode == 1 and "no last-good copy" in never.stderr and never.stdout == ""
    # A timeout counts as unreachable too (a listening socket that never answers).
    import socket

    with socket.socket() as silent:
        port = free_port()
        silent.bind(("127.0.0.1", port))
        silent.listen(1)
        slow = run([*base, "--url", f"http://127.0.0.1:{port}", "--timeout", "1", "facts.example"])
    assert slow.returncode == 0 and "WARNING" in slow.stderr


def test_client_usage_errors(tmp_path):
    assert run(["--config", str(tmp_path / "missing.conf"), "a.example"]).returncode == 2
    assert run(["--url", "http://127.0.0.1:9", "bad name"]).returncode == 2
    assert run([]).returncode == 2


def test_client_uses_only_the_standard_library():
    source = Path(CLIENT).read_text()
    imports = {line.split()[1].split(".")[0] for line in source.splitlines() if line.startswith(("import ", "from "))}
    assert imports <= set(sys.stdlib_module_names) | {"__future__"}, imports
