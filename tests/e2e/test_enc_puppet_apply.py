"""End to end: a real ``puppet apply`` (Debian puppet-agent) with ``node_terminus = exec`` and
``external_nodes = stagehand-enc`` against a running ``enc`` process applies the classes,
class parameters and top-scope variables Stagehand chose; a change in Stagehand shows in the
next run; with the enc process stopped, the last-good classification is applied."""

import shutil
import subprocess
from pathlib import Path

import pytest

from enc import service
from enc.models import NodeGroup
from inventory.models import Node
from tests.integration.enc_fixtures import ROOT, token
from tests.support.puppet import PUPPET, run_puppet
from tests.support.stack import BASE_DIR, running, service_env, start_service

CLIENT = BASE_DIR / "enc" / "client" / "stagehand-enc"
CERTNAME = "e2e-node.example"

MODULE = """
class stagehand_demo (String $message, String $path) {
  file { $path:
    ensure  => file,
    content => "${message} site=${::site}\\n",
  }
}
"""


def puppet(args: list[str], dirs: dict, env=None) -> subprocess.CompletedProcess:
    return run_puppet(
        args, conf=dirs["conf"], var=dirs["var"], code=dirs["code"], log=dirs["log"], run=dirs["run"], env=env
    )


@pytest.mark.puppet
@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_puppet_apply_with_stagehand_enc(tmp_path, artifacts_dir):
    if not Path(PUPPET).exists():
        pytest.skip("puppet-agent is not installed")
    dirs = {name: tmp_path / name for name in ("conf", "var", "code", "log", "run", "cache")}
    for path in dirs.values():
        path.mkdir()
    module = dirs["code"] / "environments" / "production" / "modules" / "stagehand_demo" / "manifests"
    module.mkdir(parents=True)
    (module / "init.pp").write_text(MODULE)
    (dirs["code"] / "environments" / "production" / "manifests").mkdir()
    output = tmp_path / "out" / "motd.txt"
    output.parent.mkdir()

    raw, _ = token(["classify"], "puppetserver")
    (tmp_path / "token").write_text(raw)
    group = service.create_group(
        {
            "name": "linux",
            "parent": ROOT,
            "rule": ["and", ["=", ["fact", "kernel"], "Linux"], [">=", ["fact", "processors", "count"], 1]],
            "classes": {"stagehand_demo": {"message": "hello from stagehand", "path": str(output)}},
            "variables": {"site": "ams"},
        },
        actor="t",
    )
    service.create_group(
        {
            "name": "production",
            "parent": ROOT,
            "rule": ["~", "name", "\\.example$"],
            "environment": "production",
            "environment_trumps": True,
        },
        actor="t",
    )

    enc = start_service("enc", service_env(tmp_path), artifacts_dir)
    (dirs["conf"] / "stagehand-enc.conf").write_text(
        f"[stagehand-enc]\nurl = {enc.url}\ntoken_file = {tmp_path / 'token'}\ntimeout = 10\n"
        f"vardir = {dirs['var']}\ncache_dir = {dirs['cache']}\n"
    )
    (dirs["conf"] / "puppet.conf").write_text(
        "[main]\n"
        f"certname = {CERTNAME}\n"
        "node_terminus = exec\n"
        f"external_nodes = {CLIENT} --config {dirs['conf'] / 'stagehand-enc.conf'}\n"
    )
    # What a Puppet server's fact cache holds for the node: the real facts of this machine.
    facts = puppet(["facts", "find", CERTNAME, "--render-as", "yaml"], dirs)
    assert facts.returncode == 0, facts.stderr
    facts_dir = dirs["var"] / "yaml" / "facts"
    facts_dir.mkdir(parents=True)
    (facts_dir / f"{CERTNAME}.yaml").write_text(facts.stdout)

    with running(enc):
        run = puppet(["apply", "-e", "", "--detailed-exitcodes"], dirs)
        (artifacts_dir / "apply-1.log").write_text(run.stdout + run.stderr)
        assert run.returncode == 2, run.stdout + run.stderr  # 2: changes applied, no failures
        assert output.read_text() == "hello from stagehand site=ams\n"
        assert "Stagehand_demo" in run.stdout or "stagehand_demo" in run.stdout.lower()
        # The client sent the node's facts; Stagehand stored them.
        assert Node.objects.get(certname=CERTNAME).factset.facts["kernel"] == "Linux"

        # A change in Stagehand is applied by the next run.
        service.update_group(
            group.id,
            {"classes": {"stagehand_demo": {"message": "changed in stagehand", "path": str(output)}}},
            actor="t",
        )
        run = puppet(["apply", "-e", "", "--detailed-exitcodes"], dirs)
        (artifacts_dir / "apply-2.log").write_text(run.stdout + run.stderr)
        assert run.returncode == 2, run.stdout + run.stderr
        assert output.read_text() == "changed in stagehand site=ams\n"

    # Stagehand down: the last-good classification is applied (the file comes back).
    output.unlink()
    NodeGroup.objects.filter(id=group.id).update(classes={})  # unseen: the service is down
    run = puppet(["apply", "-e", "", "--detailed-exitcodes"], dirs)
    (artifacts_dir / "apply-3.log").write_text(run.stdout + run.stderr)
    assert run.returncode == 2, run.stdout + run.stderr
    assert output.read_text() == "changed in stagehand site=ams\n"
    # Without a last-good copy, the run fails ("could not find node").
    shutil.rmtree(dirs["cache"])
    run = puppet(["apply", "-e", "", "--detailed-exitcodes"], dirs)
    (artifacts_dir / "apply-4.log").write_text(run.stdout + run.stderr)
    assert run.returncode not in (0, 2)
    assert CERTNAME in run.stderr + run.stdout
