"""The deployment files are valid: HAProxy accepts its configuration, the systemd units are
well-formed, every Kubernetes Deployment has probes and every scaled one an autoscaler."""

from __future__ import annotations

import configparser
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.pki import make_ca

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_haproxy_config_is_valid_and_routes_each_pool(tmp_path):
    ca = make_ca(tmp_path / "ca")
    _, _, server_pem = ca.issue("stagehand.example.com")
    env = dict(os.environ, STAGEHAND_TLS_CERT=str(server_pem), STAGEHAND_CA=str(ca.ca_cert), STAGEHAND_CRL=str(ca.crl))
    check = subprocess.run(
        ["haproxy", "-c", "-f", str(DEPLOY / "haproxy" / "haproxy.cfg")], env=env, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    text = (DEPLOY / "haproxy" / "haproxy.cfg").read_text()
    for backend in ("stagehand_web", "stagehand_ingest", "stagehand_enc"):
        section = text.split(f"\nbackend {backend}\n", 1)[1].split("\nbackend ", 1)[0]
        assert section.count("server ") >= 2, backend
        assert "uri /readyz" in section
    # Identity headers from clients are dropped before the verified ones are set.
    assert text.index("del-header X-Client-Verify") < text.index("set-header X-Client-Verify")


@pytest.mark.parametrize("unit", sorted(p.name for p in (DEPLOY / "systemd").glob("*.service")))
def test_systemd_units_are_well_formed(unit):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(DEPLOY / "systemd" / unit)
    assert parser["Service"]["ExecStart"].startswith("/opt/stagehand/.venv/bin/")
    assert parser["Service"]["User"] == "stagehand"
    if unit != "stagehand-migrate.service":
        assert parser["Service"]["Restart"] == "always"
        assert parser["Install"]["WantedBy"] == "stagehand.target"


def kubernetes_documents() -> list[dict]:
    docs = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def test_kubernetes_manifests_have_probes_and_autoscaling():
    docs = kubernetes_documents()
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert set(deployments) == {
        "stagehand-web",
        "stagehand-ingest",
        "stagehand-enc",
        "stagehand-worker",
        "stagehand-beat",
    }
    for name in ("stagehand-web", "stagehand-ingest", "stagehand-enc"):
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    worker = deployments["stagehand-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert worker["livenessProbe"]["httpGet"]["path"] == "/metrics"
    assert deployments["stagehand-beat"]["spec"]["replicas"] == 1
    assert deployments["stagehand-beat"]["spec"]["strategy"]["type"] == "Recreate"
    hpas = {d["spec"]["scaleTargetRef"]["name"]: d for d in docs if d["kind"] == "HorizontalPodAutoscaler"}
    assert set(hpas) == {"stagehand-web", "stagehand-ingest", "stagehand-enc", "stagehand-worker"}
    worker_metrics = hpas["stagehand-worker"]["spec"]["metrics"]
    assert {m["type"] for m in worker_metrics} == {"Resource", "External"}
    external = next(m for m in worker_metrics if m["type"] == "External")
    assert external["external"]["metric"]["name"] == "stagehand_inbox_pending_commands"
