#!/usr/bin/env python3
"""Validate `helm template` output offline.

    python deploy/helm/validate_manifests.py rendered.yaml [--kube-version 1.30] [--promtool PATH]

- Built-in kinds: against the Kubernetes OpenAPI schemas that PyPI's kubernetes-validate ships,
  strictly (unknown fields are errors).
- Custom resources it has no schema for (ServiceMonitor, PrometheusRule, KafkaTopic): apiVersion,
  kind, metadata.name and the spec fields the chart relies on; a PrometheusRule's groups also go
  through `promtool check rules` when promtool is given.
- The chart's own policy: every pod non-root (uid 10001), read-only root filesystem with /tmp on
  an emptyDir, all capabilities dropped, seccomp RuntimeDefault, resources set; every Deployment has
  readiness and liveness probes; hook Jobs carry their helm.sh/hook annotation.
Exits 1 listing every problem found.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

CUSTOM: dict[str, set[str]] = {
    "ServiceMonitor": {"monitoring.coreos.com/v1"},
    "PrometheusRule": {"monitoring.coreos.com/v1"},
    "KafkaTopic": {"kafka.strimzi.io/v1beta2", "kafka.strimzi.io/v1"},
}
Doc = dict[str, Any]


def load(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def check_builtin(doc: Doc, version: str) -> list[str]:
    import kubernetes_validate

    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as e:
        where = ".".join(str(p) for p in e.path) or "(root)"
        return [f"{where}: {e.message}"]
    except kubernetes_validate.SchemaNotFoundError as e:
        return [f"no schema: {e}"]
    return []


def check_custom(doc: Doc, promtool: str | None) -> list[str]:
    errors = []
    kind, meta, spec = doc["kind"], doc.get("metadata") or {}, doc.get("spec")
    if doc.get("apiVersion") not in CUSTOM[kind]:
        errors.append(f"apiVersion {doc.get('apiVersion')!r} is not one of {sorted(CUSTOM[kind])}")
    if not isinstance(meta.get("name"), str) or not meta["name"]:
        errors.append("metadata.name missing")
    elif len(meta["name"]) > 253:
        errors.append("metadata.name longer than 253 characters")
    if not isinstance(spec, dict):
        return [*errors, "spec missing"]
    if kind == "ServiceMonitor":
        if not spec.get("selector", {}).get("matchLabels"):
            errors.append("spec.selector.matchLabels missing")
        for ep in spec.get("endpoints") or [{}]:
            if not ep.get("port") or not str(ep.get("path", "")).startswith("/"):
                errors.append(f"endpoint without port or path: {ep}")
    elif kind == "PrometheusRule":
        groups = spec.get("groups")
        if not groups:
            errors.append("spec.groups empty")
        elif promtool:
            errors += promtool_check({"groups": groups}, promtool)
    elif kind == "KafkaTopic":
        if "strimzi.io/cluster" not in (meta.get("labels") or {}):
            errors.append("label strimzi.io/cluster missing")
        for field, typ in (("topicName", str), ("partitions", int), ("replicas", int)):
            if not isinstance(spec.get(field), typ):
                errors.append(f"spec.{field} missing or not {typ.__name__}")
    return errors


def promtool_check(rules: Doc, promtool: str) -> list[str]:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        yaml.safe_dump(rules, f)
        f.flush()
        run = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True)  # noqa: S603
    return [] if run.returncode == 0 else [f"promtool check rules: {run.stdout}{run.stderr}"]


def pod_spec(doc: Doc) -> Doc | None:
    if doc["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
        return doc["spec"]["template"]["spec"]
    return None


def check_policy(doc: Doc) -> list[str]:
    errors: list[str] = []
    spec = pod_spec(doc)
    if spec is None:
        return errors
    psc = spec.get("securityContext") or {}
    if psc.get("runAsNonRoot") is not True or psc.get("runAsUser") != 10001:
        errors.append("pod securityContext must set runAsNonRoot and runAsUser 10001")
    if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        errors.append("pod seccompProfile must be RuntimeDefault")
    tmp_volumes = {v["name"] for v in spec.get("volumes") or [] if "emptyDir" in v}
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        name = c.get("name")
        sc = c.get("securityContext") or {}
        if sc.get("readOnlyRootFilesystem") is not True:
            errors.append(f"container {name}: readOnlyRootFilesystem must be true")
        if sc.get("allowPrivilegeEscalation") is not False:
            errors.append(f"container {name}: allowPrivilegeEscalation must be false")
        if (sc.get("capabilities") or {}).get("drop") != ["ALL"]:
            errors.append(f"container {name}: capabilities must drop ALL")
        if sc.get("runAsNonRoot") is False:
            errors.append(f"container {name}: runAsNonRoot must not be false")
        if not any(
            m["mountPath"] == "/tmp"  # noqa: S108
            and m["name"] in tmp_volumes
            for m in c.get("volumeMounts") or []
        ):
            errors.append(f"container {name}: /tmp must be an emptyDir")
        if not (c.get("resources") or {}).get("requests"):
            errors.append(f"container {name}: resources.requests missing")
        if c.get("command") != ["onecard"]:
            errors.append(f"container {name}: command must be ['onecard']")
        if doc["kind"] == "Deployment":
            for probe in ("readinessProbe", "livenessProbe"):
                if not (c.get(probe) or {}).get("httpGet"):
                    errors.append(f"container {name}: {probe} missing")
    if doc["kind"] == "Job" and "helm.sh/hook" not in (doc["metadata"].get("annotations") or {}):
        errors.append("Job is not a Helm hook")
    return errors


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("manifests", type=Path)
    p.add_argument("--kube-version", default="1.30.0")
    p.add_argument("--promtool", help="promtool binary, to check PrometheusRule groups")
    args = p.parse_args(argv)
    docs = load(args.manifests)
    problems = []
    kinds: dict[str, int] = {}
    for doc in docs:
        kind = doc.get("kind", "?")
        kinds[kind] = kinds.get(kind, 0) + 1
        ident = f"{kind}/{(doc.get('metadata') or {}).get('name', '?')}"
        errors = check_custom(doc, args.promtool) if kind in CUSTOM else check_builtin(doc, args.kube_version)
        errors += check_policy(doc)
        problems += [f"{ident}: {e}" for e in errors]
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(f"{args.manifests}: {len(problems)} problem(s) in {len(docs)} manifests", file=sys.stderr)
        return 1
    print(f"{args.manifests}: {len(docs)} manifests valid (Kubernetes {args.kube_version}): {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
