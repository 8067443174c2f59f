"""The deployment artifacts: Prometheus rules, Grafana dashboards, the Helm chart.

Needs promtool (Debian's `prometheus` package) and Helm v3 (deploy/helm/validate.sh --install-helm
builds the pinned one into ~/.cache/onecard/bin). Without them these tests skip, unless
ONECARD_REQUIRE_SERVERS=1 (as in .ci/run), where a missing tool fails them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.servers import missing

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "rules" / "onecard-alerts.yaml"
RULE_TESTS = DEPLOY / "prometheus" / "rules" / "tests" / "onecard-alerts.test.yaml"
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
CHART = DEPLOY / "helm" / "onecard"
VALIDATE = DEPLOY / "helm" / "validate.sh"
SERVICES = ("catalog", "identity", "payments", "disbursement", "reporting")
GRAFANA_BUILTINS = {"__rate_interval", "__interval", "__range", "__range_s", "__interval_ms"}


def _missing(what: str) -> None:
    missing(f"{what} is not available")


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        _missing("promtool (apt-get install prometheus)")
    assert path is not None
    return path


def _pinned_helm_version() -> str:
    match = re.search(r"^HELM_VERSION=(\S+)$", VALIDATE.read_text(), re.MULTILINE)
    assert match, "validate.sh pins HELM_VERSION"
    return match.group(1)


@pytest.fixture(scope="module")
def helm() -> str:
    cache = Path(os.environ.get("ONECARD_CACHE", Path.home() / ".cache" / "onecard"))
    candidates = [os.environ.get("HELM"), str(cache / "bin" / "helm"), shutil.which("helm")]
    for candidate in candidates:
        if not candidate or not os.access(candidate, os.X_OK):
            continue
        version = subprocess.run(
            [candidate, "version", "--template", "{{.Version}}"], capture_output=True, text=True
        ).stdout.strip()
        if version.startswith("v3."):
            return candidate
    _missing(f"Helm v3 (deploy/helm/validate.sh --install-helm builds {_pinned_helm_version()})")
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def kubernetes_validate_present() -> None:
    try:
        import kubernetes_validate  # noqa: F401
    except ImportError:
        _missing("the Python package kubernetes-validate (dev dependency)")


def run(
    *args: str, env: dict[str, str] | None = None, timeout: int = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def _ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, f"{proc.args} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


# ---------------------------------------------------------------------------------------------
# Prometheus rules
# ---------------------------------------------------------------------------------------------


def test_alert_rules_pass_promtool_check(promtool: str) -> None:
    out = _ok(run(promtool, "check", "rules", str(RULES)))
    assert "SUCCESS" in out


def test_alert_rules_unit_tests_pass(promtool: str) -> None:
    out = _ok(run(promtool, "test", "rules", str(RULE_TESTS)))
    assert "SUCCESS" in out


def test_every_alert_is_tested_firing_and_quiet() -> None:
    alerts = {
        r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r
    }
    assert {
        "OnecardServiceDown",
        "OnecardHighErrorRatio",
        "OnecardHighLatencyP99",
        "OnecardRelayBacklogGrowing",
        "OnecardProjectionLagHigh",
        "OnecardConsumerLagHigh",
        "OnecardDeadLetters",
    } <= alerts
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert alerts - firing == set(), "alerts never shown firing"
    assert alerts - quiet == set(), "alerts never shown quiet"


# ---------------------------------------------------------------------------------------------
# Grafana dashboards
# ---------------------------------------------------------------------------------------------


def test_generated_files_are_up_to_date() -> None:
    _ok(run(sys.executable, str(DEPLOY / "grafana" / "build.py"), "--check"))


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def _variables_used(text: str) -> set[str]:
    return {a or b for a, b in re.findall(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", text)}


@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.stem for p in DASHBOARDS])
def test_dashboard_is_valid_grafana_json(path: Path) -> None:
    dash = json.loads(path.read_text())
    for key, typ in (("uid", str), ("title", str), ("panels", list), ("schemaVersion", int), ("time", dict)):
        assert isinstance(dash.get(key), typ), f"{key} missing or not {typ.__name__}"
    assert len(dash["uid"]) <= 40
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    ds = variables.get("datasource")
    assert ds and ds["type"] == "datasource" and ds["query"] == "prometheus", (
        "a Prometheus data source variable"
    )
    prom = {"type": "prometheus", "uid": "${datasource}"}
    for var in variables.values():
        if var["type"] == "query":
            assert var["datasource"] == prom
            assert _variables_used(var["definition"]) <= set(variables) | GRAFANA_BUILTINS
    ids: set[int] = set()
    boxes: list[tuple[int, int, int, int]] = []
    for panel in _panels(dash):
        assert panel["id"] not in ids, f"duplicate panel id {panel['id']}"
        ids.add(panel["id"])
        gp = panel["gridPos"]
        assert all(isinstance(gp[k], int) for k in "xywh") and gp["x"] + gp["w"] <= 24
        for bx, by, bw, bh in boxes:
            overlap = (
                gp["x"] < bx + bw and bx < gp["x"] + gp["w"] and gp["y"] < by + bh and by < gp["y"] + gp["h"]
            )
            assert not overlap, f"panel {panel['title']!r} overlaps another"
        boxes.append((gp["x"], gp["y"], gp["w"], gp["h"]))
        assert panel["type"] in {"row", "timeseries", "stat", "table", "bargauge"}
        if panel["type"] == "row":
            continue
        assert panel["title"] and panel["datasource"] == prom
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs))
        for t in panel["targets"]:
            assert t["datasource"] == prom and t["expr"].strip()
            assert _variables_used(t["expr"]) <= set(variables) | GRAFANA_BUILTINS, t["expr"]


def test_dashboard_uids_are_unique_and_cover_the_three_views() -> None:
    uids = [json.loads(p.read_text())["uid"] for p in DASHBOARDS]
    assert len(uids) == len(set(uids))
    assert {"onecard-platform", "onecard-card-use", "onecard-depth"} <= set(uids)
    depth = json.loads((DEPLOY / "grafana" / "dashboards" / "onecard-depth.json").read_text())
    assert {"jurisdiction", "department"} <= {v["name"] for v in depth["templating"]["list"]}


def _grafana_to_promql(expr: str) -> str:
    expr = expr.replace("$__rate_interval", "5m").replace("$__interval", "1m").replace("$__range", "1h")
    return re.sub(r"\$\{\w+(?::\w+)?\}|\$\w+", ".*", expr)


def _all_expressions() -> list[tuple[str, str]]:
    exprs: list[tuple[str, str]] = []
    for path in DASHBOARDS:
        dash = json.loads(path.read_text())
        for panel in _panels(dash):
            for t in panel.get("targets", []):
                exprs.append((f"{path.stem}: {panel['title']} {t['refId']}", _grafana_to_promql(t["expr"])))
        for var in dash["templating"]["list"]:
            match = re.fullmatch(r"label_values\((.+),\s*\w+\)", var.get("definition", ""))
            if match:
                exprs.append((f"{path.stem}: variable {var['name']}", _grafana_to_promql(match.group(1))))
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            exprs.append((f"rule {rule.get('alert') or rule.get('record')}", rule["expr"]))
    return exprs


def _check_as_recording_rules(
    promtool: str, exprs: list[str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    rules = {
        "groups": [
            {"name": "syntax", "rules": [{"record": f"check_{i}", "expr": e} for i, e in enumerate(exprs)]}
        ]
    }
    path = tmp_path / "exprs.yaml"
    path.write_text(yaml.safe_dump(rules))
    return run(promtool, "check", "rules", str(path))


def test_every_promql_expression_parses(promtool: str, tmp_path: Path) -> None:
    exprs = _all_expressions()
    assert len(exprs) > 40
    proc = _check_as_recording_rules(promtool, [e for _, e in exprs], tmp_path)
    if proc.returncode != 0:
        bad = [
            name for name, e in exprs if _check_as_recording_rules(promtool, [e], tmp_path).returncode != 0
        ]
        pytest.fail(f"PromQL that promtool rejects: {bad}\n{proc.stdout}{proc.stderr}")
    # The check itself catches a broken expression.
    assert _check_as_recording_rules(promtool, ["sum by (service (up)"], tmp_path).returncode != 0


# ---------------------------------------------------------------------------------------------
# Helm chart
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("values", ["values.yaml", "values-production.yaml"])
def test_helm_chart_lints_renders_and_validates(
    helm: str, promtool: str, kubernetes_validate_present: None, values: str
) -> None:
    proc = run("bash", str(VALIDATE), values, env={"HELM": helm, "PYTHON": sys.executable})
    out = _ok(proc)
    assert "manifests valid" in out


def _render(helm: str, *extra: str) -> list[dict[str, Any]]:
    out = _ok(run(helm, "template", "onecard", str(CHART), "--namespace", "onecard", *extra))
    return [d for d in yaml.safe_load_all(out) if d]


def _kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_a_service_runs_the_workers_its_values_ask_for(helm: str) -> None:
    deployments = _kind(_render(helm, "--set", "services.identity.workers=3"), "Deployment")
    for service in SERVICES:
        (container,) = deployments[f"onecard-{service}"]["spec"]["template"]["spec"]["containers"]
        assert container["args"][-2:] == ["--workers", "3" if service == "identity" else "1"]


def test_production_values_render_the_ha_installation(helm: str) -> None:
    docs = _render(helm, "-f", str(CHART / "values-production.yaml"))
    deployments = _kind(docs, "Deployment")
    assert set(deployments) == {f"onecard-{s}" for s in SERVICES}
    for service in SERVICES:
        pod = deployments[f"onecard-{service}"]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["command"] == ["onecard"]
        assert container["args"][:4] == ["serve", service, "--port", "8080"]
        assert container["args"][-2:] == ["--workers", "1"]
        assert container["readinessProbe"]["httpGet"]["path"] == f"/{service}/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == f"/{service}/healthz"
        env = {e["name"] for e in container["env"]}
        assert ("ONECARD_TOKEN_PRIVATE_KEY" in env) == (service == "catalog")
        assert {"ONECARD_DATABASE_URL", "ONECARD_TOKEN_PUBLIC_KEY", "ONECARD_PII_KEY"} <= env
        assert "replicas" not in deployments[f"onecard-{service}"]["spec"]  # the HPA owns it
    hpas = _kind(docs, "HorizontalPodAutoscaler")
    assert {h["spec"]["minReplicas"] for h in hpas.values()} == {3} and len(hpas) == 5
    assert len(_kind(docs, "PodDisruptionBudget")) == 5
    (ingress,) = _kind(docs, "Ingress").values()
    assert ingress["spec"]["tls"]
    paths = {p["path"]: p["backend"]["service"]["name"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert paths == {f"/{s}": f"onecard-{s}" for s in SERVICES}
    monitors = _kind(docs, "ServiceMonitor")
    assert {m["spec"]["endpoints"][0]["path"] for m in monitors.values()} == {
        f"/{s}/metrics" for s in SERVICES
    }
    (rule,) = _kind(docs, "PrometheusRule").values()
    assert rule["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]
    dashboards = [
        c for c in _kind(docs, "ConfigMap").values() if c["metadata"]["labels"].get("grafana_dashboard")
    ]
    assert len(dashboards) == len(DASHBOARDS)
    for cm in dashboards:
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        for text in cm["data"].values():
            json.loads(text)
    jobs = _kind(docs, "Job")
    migrate = jobs["onecard-migrate"]
    assert migrate["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert migrate["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    assert "onecard-topics" not in jobs  # Strimzi owns the topics in production


def test_strimzi_topics_match_the_platform_topic_list(helm: str) -> None:
    from onecard_events.kafka import platform_topics

    docs = _render(helm, "-f", str(CHART / "values-production.yaml"), "--set", "partners={510000,520000}")
    topics = {t["spec"]["topicName"]: t for t in _kind(docs, "KafkaTopic").values()}
    expected = platform_topics(["510000", "520000"])
    assert set(topics) == {s.name for s in expected}
    for spec in expected:
        topic = topics[spec.name]
        assert topic["spec"]["partitions"] == spec.partitions
        assert int(topic["spec"]["config"]["retention.ms"]) == spec.retention_ms
        assert topic["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_default_values_render_without_crds_and_with_the_topics_job(helm: str) -> None:
    docs = _render(helm)
    assert not {d["kind"] for d in docs} & {"ServiceMonitor", "PrometheusRule", "KafkaTopic"}
    jobs = _kind(docs, "Job")
    topics = jobs["onecard-topics"]
    assert topics["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert topics["spec"]["template"]["spec"]["containers"][0]["args"][0] == "topics"
    # Hook jobs run before the release's ConfigMap exists: their configuration is inline.
    for job in jobs.values():
        container = job["spec"]["template"]["spec"]["containers"][0]
        assert "envFrom" not in container
        assert "ONECARD_KAFKA_BOOTSTRAP" in {e["name"] for e in container["env"]}


def test_database_url_can_be_composed_from_a_password_secret(helm: str) -> None:
    docs = _render(
        helm,
        "--set",
        "database.urlKey=",
        "--set",
        "database.host=pg-postgresql.db.svc",
        "--set",
        "database.existingSecret=pg-postgresql",
    )
    container = _kind(docs, "Deployment")["onecard-payments"]["spec"]["template"]["spec"]["containers"][0]
    env = [e["name"] for e in container["env"]]
    url = next(e["value"] for e in container["env"] if e["name"] == "ONECARD_DATABASE_URL")
    assert (
        url == "postgresql+asyncpg://onecard:$(ONECARD_DATABASE_PASSWORD)@pg-postgresql.db.svc:5432/onecard"
    )
    assert env.index("ONECARD_DATABASE_PASSWORD") < env.index("ONECARD_DATABASE_URL")  # $(VAR) needs order
