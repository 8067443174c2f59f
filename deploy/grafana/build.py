#!/usr/bin/env python3
"""Build the onecard Grafana dashboards, and keep the Helm chart's copies in step.

    python deploy/grafana/build.py           # write deploy/grafana/dashboards/*.json and the chart's copies
    python deploy/grafana/build.py --check   # exit 1 if any generated file is missing or out of date

Writes:
  deploy/grafana/dashboards/onecard-{platform,card-use,depth}.json  (the dashboards, edit this script)
  deploy/helm/onecard/files/dashboards/*.json                       (copies the chart ships as ConfigMaps)
  deploy/helm/onecard/files/prometheus/onecard-alerts.yaml          (copy of deploy/prometheus/rules/)

Every dashboard has a Prometheus data source variable `datasource`; every query selects the scrape
job "onecard" (as the alerting rules do). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEPLOY = HERE.parent
OUT = HERE / "dashboards"
CHART_FILES = DEPLOY / "helm" / "onecard" / "files"
RULES = DEPLOY / "prometheus" / "rules" / "onecard-alerts.yaml"

DS = {"type": "prometheus", "uid": "${datasource}"}
JOB = 'job="onecard", namespace=~"$namespace"'
RI = "$__rate_interval"
# A partner region's inbound topic or its DLQ, behind any ONECARD_TOPIC_PREFIX (PromQL string).
PARTNER_INBOUND = "(.+\\\\.)?partner\\\\.[^.]+\\\\.onecard\\\\.v1(\\\\.dlq)?"

Json = dict[str, Any]


# ----------------------------------------------------------------------------------------------
# Building blocks
# ----------------------------------------------------------------------------------------------


def target(
    expr: str, legend: str = "", *, ref: str = "A", instant: bool = False, table: bool = False
) -> Json:
    t: Json = {"datasource": DS, "refId": ref, "expr": expr, "legendFormat": legend or "__auto"}
    if instant or table:
        t.update({"instant": True, "range": False})
    else:
        t.update({"instant": False, "range": True})
    if table:
        t["format"] = "table"
    return t


def targets(*items: tuple[str, str]) -> list[Json]:
    return [target(expr, legend, ref=chr(ord("A") + i)) for i, (expr, legend) in enumerate(items)]


def timeseries(
    title: str,
    tgts: list[Json],
    unit: str = "short",
    *,
    description: str = "",
    w: int = 12,
    h: int = 8,
    stack: bool = False,
    bars: bool = False,
    min0: bool = True,
    thresholds: list[tuple[float, str]] | None = None,
) -> Json:
    custom: Json = {
        "drawStyle": "bars" if bars else "line",
        "lineWidth": 1,
        "fillOpacity": 80 if bars else 10,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
    }
    defaults: Json = {"unit": unit, "custom": custom, "color": {"mode": "palette-classic"}}
    if min0:
        defaults["min"] = 0
    if thresholds:
        custom["thresholdsStyle"] = {"mode": "dashed"}
        defaults["thresholds"] = _thresholds(thresholds)
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"w": w, "h": h},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": tgts,
    }


def _thresholds(steps: list[tuple[float, str]]) -> Json:
    out: list[Json] = [{"color": "green", "value": None}]
    out += [{"color": color, "value": value} for value, color in steps]
    return {"mode": "absolute", "steps": out}


def stat(
    title: str,
    tgts: list[Json],
    unit: str = "short",
    *,
    description: str = "",
    w: int = 6,
    h: int = 4,
    thresholds: list[tuple[float, str]] | None = None,
    reduce: str = "lastNotNull",
) -> Json:
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"w": w, "h": h},
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "color": {"mode": "thresholds"},
                "thresholds": _thresholds(thresholds or []),
            },
            "overrides": [],
        },
        "options": {
            "reduceOptions": {"calcs": [reduce], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": "auto",
        },
        "targets": tgts,
    }


def bargauge(
    title: str,
    tgts: list[Json],
    unit: str = "short",
    *,
    description: str = "",
    w: int = 12,
    h: int = 8,
    max_: float | None = None,
) -> Json:
    defaults: Json = {"unit": unit, "min": 0, "color": {"mode": "continuous-GrYlRd"}}
    if max_ is not None:
        defaults["max"] = max_
    return {
        "type": "bargauge",
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"w": w, "h": h},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "displayMode": "gradient",
            "orientation": "horizontal",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "showUnfilled": True,
        },
        "targets": tgts,
    }


def table(
    title: str,
    tgts: list[Json],
    *,
    description: str = "",
    w: int = 24,
    h: int = 12,
    rename: dict[str, str] | None = None,
    hide: list[str] | None = None,
    overrides: list[Json] | None = None,
) -> Json:
    return {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"w": w, "h": h},
        "fieldConfig": {
            "defaults": {"custom": {"align": "auto", "filterable": True}},
            "overrides": overrides or [],
        },
        "options": {"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"]}},
        "transformations": [
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {name: True for name in ["Time", *(hide or [])]},
                    "renameByName": rename or {},
                    "indexByName": {},
                },
            },
        ],
        "targets": tgts,
    }


def row(title: str) -> Json:
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "gridPos": {"w": 24, "h": 1}}


def layout(panels: list[Json]) -> list[Json]:
    """Give panels ids and positions: left to right, wrapping at 24 columns; rows start a new line."""
    x = y = 0
    line_h = 0
    for pid, panel in enumerate(panels, start=1):
        panel["id"] = pid
        gp = panel["gridPos"]
        if panel["type"] == "row" or x + gp["w"] > 24:
            y += line_h
            x = line_h = 0
        gp["x"], gp["y"] = x, y
        if panel["type"] == "row":
            y += 1
            continue
        x += gp["w"]
        line_h = max(line_h, gp["h"])
    return panels


def datasource_var() -> Json:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [],
        "refresh": 1,
        "regex": "",
    }


def query_var(
    name: str,
    label: str,
    query: str,
    *,
    multi: bool = True,
    include_all: bool = True,
    current: str | None = None,
) -> Json:
    var: Json = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-query"},
        "refresh": 2,
        "sort": 1,
        "hide": 0,
        "multi": multi,
        "includeAll": include_all,
        "options": [],
        "regex": "",
    }
    if include_all:
        var["allValue"] = ".*"
    var["current"] = (
        {"selected": True, "text": [current], "value": [current]}
        if current
        else {"selected": True, "text": ["All"], "value": ["$__all"]}
        if include_all
        else {}
    )
    return var


def namespace_var() -> Json:
    return query_var("namespace", "Namespace", 'label_values(up{job="onecard"}, namespace)')


def dashboard(uid: str, title: str, description: str, variables: list[Json], panels: list[Json]) -> Json:
    return {
        "id": None,
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["onecard"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "links": [
            {
                "title": "onecard",
                "type": "dashboards",
                "tags": ["onecard"],
                "asDropdown": True,
                "includeVars": True,
                "keepTime": True,
                "icon": "external link",
                "targetBlank": False,
                "tooltip": "",
                "url": "",
            }
        ],
        "templating": {"list": [datasource_var(), *variables]},
        "panels": layout(panels),
    }


# ----------------------------------------------------------------------------------------------
# The dashboards
# ----------------------------------------------------------------------------------------------


def platform() -> Json:
    svc = f'{JOB}, service=~"$service"'
    api = f'{svc}, route!~".*/(healthz|readyz|metrics)"'
    req = f"onecard_http_requests_total{{{svc}}}"
    lat = f"onecard_http_request_duration_seconds_bucket{{{api}}}"
    panels = [
        row("Traffic"),
        stat(
            "Targets up",
            [target(f"sum(up{{{svc}}})", "up", instant=True)],
            description="Scrape targets (pods) answering on /<service>/metrics.",
        ),
        stat(
            "Targets down",
            [target(f"count(up{{{svc}}} == 0) or vector(0)", "down", instant=True)],
            thresholds=[(1, "red")],
        ),
        stat(
            "Requests/s",
            [target(f"sum(rate({req}[{RI}]))", "req/s")],
            "reqps",
        ),
        stat(
            "5xx ratio",
            [
                target(
                    # `or vector(0)`: a healthy platform has no 5xx series; show 0 %, not "No data".
                    f'(sum(rate(onecard_http_requests_total{{{svc}, status=~"5.."}}[{RI}])) or vector(0))'
                    f" / sum(rate({req}[{RI}]))",
                    "5xx",
                )
            ],
            "percentunit",
            thresholds=[(0.01, "orange"), (0.05, "red")],
        ),
        timeseries(
            "Requests/s by service",
            [target(f"sum by (service) (rate({req}[{RI}]))", "{{service}}")],
            "reqps",
            stack=True,
        ),
        timeseries(
            "Requests/s by status",
            [target(f"sum by (status) (rate({req}[{RI}]))", "{{status}}")],
            "reqps",
            stack=True,
        ),
        row("Errors"),
        timeseries(
            "5xx ratio by service",
            [
                target(
                    f'(sum by (service) (rate(onecard_http_requests_total{{{svc}, status=~"5.."}}[{RI}]))'
                    f" or 0 * sum by (service) (rate({req}[{RI}])))"
                    f" / sum by (service) (rate({req}[{RI}]))",
                    "{{service}}",
                )
            ],
            "percentunit",
            thresholds=[(0.05, "red")],
            description="Alert OnecardHighErrorRatio fires above 5% for 5 minutes.",
        ),
        timeseries(
            "4xx and 5xx by route (top 10)",
            [
                target(
                    f"topk(10, sum by (service, method, route, status) "
                    f'(rate(onecard_http_requests_total{{{svc}, status=~"4..|5.."}}[{RI}])))',
                    "{{status}} {{method}} {{route}}",
                )
            ],
            "reqps",
        ),
        row("Latency"),
        timeseries(
            "Latency p50 / p99 by service",
            targets(
                (f"histogram_quantile(0.5, sum by (service, le) (rate({lat}[{RI}])))", "p50 {{service}}"),
                (f"histogram_quantile(0.99, sum by (service, le) (rate({lat}[{RI}])))", "p99 {{service}}"),
            ),
            "s",
            thresholds=[(1, "red")],
            description=(
                "Probes and scrapes left out. Alert OnecardHighLatencyP99 fires above 1 s for 10 minutes."
            ),
        ),
        timeseries(
            "Latency p99 by route (top 10)",
            [
                target(
                    f"topk(10, histogram_quantile(0.99, "
                    f"sum by (service, method, route, le) (rate({lat}[{RI}]))))",
                    "{{method}} {{route}}",
                )
            ],
            "s",
        ),
        row("Events: outbox relay and event store"),
        timeseries(
            "Relay backlog by service",
            [target(f"max by (service) (onecard_relay_backlog_events{{{svc}}})", "{{service}}")],
            "short",
            thresholds=[(500, "orange")],
            description=(
                "Committed events the relay read in its last batch (at most 1000): near-full batches "
                "mean it is behind. Only the pod holding the relay's advisory lock reports non-zero."
            ),
        ),
        timeseries(
            "Events published to Kafka/s",
            [
                target(
                    f"sum by (service) (rate(onecard_relay_published_events_total{{{svc}}}[{RI}]))",
                    "{{service}}",
                )
            ],
            "ops",
            stack=True,
        ),
        timeseries(
            "Commit to broker ack p99",
            [
                target(
                    f"histogram_quantile(0.99, sum by (service, le) "
                    f"(rate(onecard_relay_publish_seconds_bucket{{{svc}}}[{RI}])))",
                    "{{service}}",
                )
            ],
            "s",
        ),
        timeseries(
            "Event store append p99",
            [
                target(
                    f"histogram_quantile(0.99, sum by (service, le) "
                    f"(rate(onecard_eventstore_append_seconds_bucket{{{svc}}}[{RI}])))",
                    "{{service}}",
                )
            ],
            "s",
        ),
        timeseries(
            "Event store append batch size (p50 / p99)",
            targets(
                (
                    f"histogram_quantile(0.5, sum by (service, le) "
                    f"(rate(onecard_eventstore_append_batch_size_bucket{{{svc}}}[{RI}])))",
                    "p50 {{service}}",
                ),
                (
                    f"histogram_quantile(0.99, sum by (service, le) "
                    f"(rate(onecard_eventstore_append_batch_size_bucket{{{svc}}}[{RI}])))",
                    "p99 {{service}}",
                ),
            ),
            "short",
            description="Events per group commit.",
        ),
        row("Consumers and projections"),
        timeseries(
            "Consumer lag by service, consumer and topic",
            [
                target(
                    f"sum by (service, consumer, topic) (max by (service, consumer, topic, partition) "
                    f"(onecard_consumer_lag_messages{{{svc}}}))",
                    "{{service}} {{consumer}} {{topic}}",
                )
            ],
            "short",
            thresholds=[(10000, "red")],
            description=(
                "Unread messages summed over partitions. "
                "Alert OnecardConsumerLagHigh: above 10000 for 10 minutes."
            ),
        ),
        timeseries(
            "Projection lag",
            [
                target(
                    f"max by (service, projection) (onecard_projection_lag_seconds{{{svc}}})",
                    "{{service}} {{projection}}",
                )
            ],
            "s",
            thresholds=[(60, "red")],
            description=(
                "Age of the newest event a read model has applied. "
                "Alert OnecardProjectionLagHigh: above 60 s for 5 minutes."
            ),
        ),
        timeseries(
            "Dead-lettered events",
            [target(f"sum by (topic) (increase(onecard_dlq_events_total{{{JOB}}}[{RI}]))", "{{topic}}")],
            "short",
            bars=True,
            w=24,
            description="Inbound partner events that failed validation (partner.<region>.onecard.v1.dlq).",
        ),
    ]
    return dashboard(
        "onecard-platform",
        "onecard / Platform overview",
        "Traffic, errors and latency per service; the outbox relay, event store, consumers and projections.",
        [
            namespace_var(),
            query_var(
                "service", "Service", 'label_values(up{job="onecard", namespace=~"$namespace"}, service)'
            ),
        ],
        panels,
    )


def card_use() -> Json:
    ver = f'onecard_verifications_total{{{JOB}, method=~"$method"}}'
    cross = f'onecard_verifications_total{{{JOB}, method=~"$method", cross_region="true"}}'
    pay = f"onecard_payments_total{{{JOB}}}"
    dis = f"onecard_disbursements_total{{{JOB}}}"
    panels = [
        row("Verifications at venues"),
        stat("Verifications/s", [target(f"sum(rate({ver}[{RI}]))", "verifications/s")], "ops"),
        stat(
            "Refused",
            [
                target(
                    f'sum(rate(onecard_verifications_total{{{JOB}, method=~"$method", '
                    f'result="refused"}}[{RI}]))'
                    f" / sum(rate({ver}[{RI}]))",
                    "refused",
                )
            ],
            "percentunit",
            thresholds=[(0.05, "orange"), (0.2, "red")],
        ),
        stat(
            "Cross-region share",
            [target(f"sum(rate({cross}[{RI}])) / sum(rate({ver}[{RI}]))", "cross-region")],
            "percentunit",
        ),
        stat(
            "Payments settled/s",
            [target(f'sum(rate(onecard_payments_total{{{JOB}, status="settled"}}[{RI}]))', "settled/s")],
            "ops",
        ),
        timeseries(
            "Verifications/s by method and result",
            [target(f"sum by (method, result) (rate({ver}[{RI}]))", "{{method}} {{result}}")],
            "ops",
            stack=True,
        ),
        bargauge(
            "Refusal reasons (selected range)",
            [
                target(
                    f"sort_desc(sum by (reason) (increase(onecard_verifications_total{{"
                    f'{JOB}, method=~"$method", '
                    f'result="refused"}}[$__range])))',
                    "{{reason}}",
                    instant=True,
                )
            ],
            description=(
                "invalid_ssn, unknown_card, card_lost, card_cancelled, qr_expired, qr_reused, "
                "qr_bad_signature, no_terminal, …"
            ),
        ),
        row("Cross-region flows"),
        timeseries(
            "Partner cards verified here/s (inbound) by method and result",
            [target(f"sum by (method, result) (rate({cross}[{RI}]))", "{{method}} {{result}}")],
            "ops",
            stack=True,
            description='Verifications of cards issued in a partner region (cross_region="true").',
        ),
        timeseries(
            "Cross-region refusal reasons",
            [
                target(
                    f'sum by (reason) (rate(onecard_verifications_total{{{JOB}, method=~"$method", '
                    f'cross_region="true", result="refused"}}[{RI}]))',
                    "{{reason}}",
                )
            ],
            "ops",
            stack=True,
        ),
        timeseries(
            "Partner streams: dead-lettered inbound events",
            [
                target(
                    f"sum by (topic) (increase(onecard_dlq_events_total{{"
                    f'{JOB}, topic=~"{PARTNER_INBOUND}"}}[{RI}]))',
                    "{{topic}}",
                )
            ],
            "short",
            bars=True,
            description="Events from partner.<region>.onecard.v1 that failed validation and went to the DLQ.",
        ),
        row("Payments"),
        timeseries(
            "Payments/s by method and status",
            [target(f"sum by (method, status) (rate({pay}[{RI}]))", "{{method}} {{status}}")],
            "ops",
            stack=True,
        ),
        timeseries(
            "Decline ratio by method",
            [
                target(
                    f'sum by (method) (rate(onecard_payments_total{{{JOB}, status="declined"}}[{RI}]))'
                    f" / sum by (method) (rate(onecard_payments_total{{"
                    f'{JOB}, status=~"settled|declined"}}[{RI}]))',
                    "{{method}}",
                )
            ],
            "percentunit",
        ),
        row("Disbursements"),
        timeseries(
            "Payee outcomes/s by channel and outcome",
            [target(f"sum by (channel, outcome) (rate({dis}[{RI}]))", "{{channel}} {{outcome}}")],
            "ops",
            stack=True,
        ),
        timeseries(
            "Failed or returned share by channel",
            [
                target(
                    f"sum by (channel) (rate(onecard_disbursements_total{{"
                    f'{JOB}, outcome=~"failed|returned"}}[{RI}]))'
                    f" / sum by (channel) (rate({dis}[{RI}]))",
                    "{{channel}}",
                )
            ],
            "percentunit",
        ),
        bargauge(
            "Payee outcomes (selected range)",
            [
                target(
                    f"sort_desc(sum by (channel, outcome) (increase({dis}[$__range])))",
                    "{{channel}} {{outcome}}",
                    instant=True,
                )
            ],
            w=24,
            h=6,
        ),
    ]
    return dashboard(
        "onecard-card-use",
        "onecard / Card use",
        "Verifications at venues, payments, disbursements and the flows with partner regions.",
        [
            namespace_var(),
            query_var(
                "method",
                "Verification method",
                'label_values(onecard_verifications_total{job="onecard", namespace=~"$namespace"}, method)',
            ),
        ],
        panels,
    )


def depth() -> Json:
    sel = (
        'job="onecard", namespace=~"$namespace", jurisdiction=~"$jurisdiction", '
        'department=~"$department", category=~"$category", item_id=~"$item_id"'
    )
    by = "jurisdiction, department, item_id, category"

    def m(metric: str) -> str:
        return f"max by ({by}) ({metric}{{{sel}}})"

    level, planned, ratio = (
        m("onecard_depth_level"),
        m("onecard_depth_planned_level"),
        m("onecard_depth_ratio"),
    )
    behind = f"{level} < on ({by}) {planned}"
    met = f"{level} >= on ({by}) {planned}"
    panels = [
        row("Against plan"),
        stat(
            "Behind plan",
            [target(f"count({behind}) or vector(0)", "behind", instant=True)],
            thresholds=[(1, "orange")],
            description="Item × category rows whose achieved level is below the plan.",
        ),
        stat("Meeting plan", [target(f"count({met}) or vector(0)", "met", instant=True)]),
        stat("Mean depth ratio", [target(f"avg({ratio})", "ratio", instant=True)], "percentunit"),
        stat(
            "Mean achieved / planned level",
            [
                target(f"avg({level})", "achieved", ref="A", instant=True),
                target(f"avg({planned})", "planned", ref="B", instant=True),
            ],
            "short",
            reduce="lastNotNull",
        ),
        bargauge(
            "Behind-plan rows by jurisdiction",
            [target(f"sort_desc(count by (jurisdiction) ({behind}))", "{{jurisdiction}}", instant=True)],
        ),
        bargauge(
            "Behind-plan rows by department",
            [target(f"sort_desc(count by (department) ({behind}))", "{{department}}", instant=True)],
        ),
        table(
            "Depth against plan per item",
            [
                target(level, ref="A", table=True),
                target(planned, ref="B", table=True),
                target(ratio, ref="C", table=True),
            ],
            rename={
                "Value #A": "achieved level",
                "Value #B": "planned level",
                "Value #C": "ratio",
                "item_id": "item",
                "jurisdiction": "jurisdiction",
                "department": "department",
                "category": "category",
            },
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "ratio"},
                    "properties": [
                        {"id": "unit", "value": "percentunit"},
                        {"id": "custom.cellOptions", "value": {"type": "color-background"}},
                        {"id": "thresholds", "value": _thresholds([])},
                    ],
                },
            ],
            description='One row per item and category (category "overall" is the item\'s lowest level).',
        ),
        row("Over time"),
        timeseries(
            "Mean depth ratio by department",
            [target(f"avg by (department) ({ratio})", "{{department}}")],
            "percentunit",
        ),
        timeseries(
            "Shortfall (planned − achieved levels) by jurisdiction",
            [
                target(
                    f"sum by (jurisdiction) (clamp_min({planned} - on ({by}) {level}, 0))", "{{jurisdiction}}"
                )
            ],
            "short",
            stack=True,
        ),
    ]
    lv = "onecard_depth_level"
    in_j = f'{JOB}, jurisdiction=~"$jurisdiction"'
    in_jd = f'{in_j}, department=~"$department"'
    return dashboard(
        "onecard-depth",
        "onecard / Depth against plan",
        "Application depth of the card per jurisdiction, department, item and category, against the plan.",
        [
            namespace_var(),
            query_var("jurisdiction", "Jurisdiction", f"label_values({lv}{{{JOB}}}, jurisdiction)"),
            query_var("department", "Department", f"label_values({lv}{{{in_j}}}, department)"),
            query_var("category", "Category", f"label_values({lv}{{{in_jd}}}, category)", current="overall"),
            query_var("item_id", "Item", f"label_values({lv}{{{in_jd}}}, item_id)"),
        ],
        panels,
    )


DASHBOARDS = {"onecard-platform": platform, "onecard-card-use": card_use, "onecard-depth": depth}


def render() -> dict[Path, str]:
    """Every generated file and its content."""
    files: dict[Path, str] = {}
    for name, build in DASHBOARDS.items():
        text = json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
        files[OUT / f"{name}.json"] = text
        files[CHART_FILES / "dashboards" / f"{name}.json"] = text
    files[CHART_FILES / "prometheus" / "onecard-alerts.yaml"] = RULES.read_text()
    return files


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="fail if a generated file is out of date")
    args = p.parse_args(argv)
    stale = []
    for path, text in render().items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(DEPLOY.parent)}")
    if stale:
        for path in stale:
            print(f"out of date: {path.relative_to(DEPLOY.parent)}", file=sys.stderr)
        print("run: python deploy/grafana/build.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
