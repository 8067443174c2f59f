#!/usr/bin/env python3
"""Build the onecard Grafana dashboards, and keep the Helm chart's copies in step.

    .venv/bin/python deploy/grafana/build.py           # write the dashboards and the chart's copies
    .venv/bin/python deploy/grafana/build.py --check   # exit 1 if a generated file is missing or stale

Writes:
  deploy/grafana/dashboards/onecard-{platform,card-use,depth}.json  (the dashboards, edit this script)
  deploy/helm/onecard/files/dashboards/*.json                       (copies the chart ships as ConfigMaps)
  deploy/helm/onecard/files/prometheus/onecard-alerts.yaml          (copy of deploy/prometheus/rules/)

The dashboards are built with Grafana's typed builders, the `grafana-foundation-sdk` package (root
dev dependency group: `uv sync`). Every dashboard has a Prometheus data source variable `datasource`;
every query selects the scrape job "onecard" (as the alerting rules do).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

try:
    from grafana_foundation_sdk.builders import bargauge, stat, table, timeseries
    from grafana_foundation_sdk.builders import common as cb
    from grafana_foundation_sdk.builders import dashboard as db
    from grafana_foundation_sdk.builders.prometheus import Dataquery
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models import common as cm
    from grafana_foundation_sdk.models import dashboard as dm
    from grafana_foundation_sdk.models.prometheus import PromQueryFormat
except ImportError:  # pragma: no cover - a helpful message instead of a traceback
    sys.exit("grafana-foundation-sdk is missing: run `uv sync` and use .venv/bin/python")

HERE = Path(__file__).resolve().parent
DEPLOY = HERE.parent
OUT = HERE / "dashboards"
CHART_FILES = DEPLOY / "helm" / "onecard" / "files"
RULES = DEPLOY / "prometheus" / "rules" / "onecard-alerts.yaml"

DS = cm.DataSourceRef(type_val="prometheus", uid="${datasource}")
JOB = 'job="onecard", namespace=~"$namespace"'
RI = "$__rate_interval"
# A partner region's inbound topic or its DLQ, behind any ONECARD_TOPIC_PREFIX (PromQL string).
PARTNER_INBOUND = "(.+\\\\.)?partner\\\\.[^.]+\\\\.onecard\\\\.v1(\\\\.dlq)?"

Steps = tuple[tuple[float, str], ...]
P = TypeVar("P", timeseries.Panel, stat.Panel, bargauge.Panel, table.Panel)
Item = db.Row | timeseries.Panel | stat.Panel | bargauge.Panel | table.Panel


# ----------------------------------------------------------------------------------------------
# PromQL shapes
# ----------------------------------------------------------------------------------------------


def rate(selector: str) -> str:
    return f"rate({selector}[{RI}])"


def sum_rate(selector: str, by: str = "") -> str:
    """`sum(rate(selector[$__rate_interval]))`, or `sum by (labels) (…)`."""
    return f"sum by ({by}) ({rate(selector)})" if by else f"sum({rate(selector)})"


def ratio(numerator: str, denominator: str, by: str = "") -> str:
    return f"{sum_rate(numerator, by)} / {sum_rate(denominator, by)}"


def increase(selector: str, by: str, window: str = RI) -> str:
    return f"sum by ({by}) (increase({selector}[{window}]))"


def quantile(q: float, by: str, buckets: str) -> str:
    return f"histogram_quantile({q}, sum by ({by}, le) ({rate(buckets)}))"


def legend(by: str) -> str:
    """The legend naming every label of a `by (a, b)` clause: `{{a}} {{b}}`."""
    return " ".join(f"{{{{{label}}}}}" for label in by.split(", "))


# ----------------------------------------------------------------------------------------------
# Building blocks
# ----------------------------------------------------------------------------------------------


def q(
    expr: str, legend_format: str = "__auto", *, instant: bool = False, as_table: bool = False
) -> Dataquery:
    """A Prometheus query on the dashboard's data source; a table query is an instant one."""
    query = Dataquery().datasource(DS).expr(expr).legend_format(legend_format)
    if as_table:
        query.format(PromQueryFormat.TABLE)
    return query.instant() if instant or as_table else query.range()


def max_by(by: str, selector: str) -> Dataquery:
    return q(f"max by ({by}) ({selector})", legend(by))


def quantiles(buckets: str, *qs: float, by: str = "service") -> list[Dataquery]:
    """Histogram quantiles per `by`: named `{{service}}` alone, `p50 {{service}}` … side by side."""
    names = [legend(by)] if len(qs) == 1 else [f"p{round(x * 100)} {legend(by)}" for x in qs]
    return [q(quantile(x, by, buckets), name) for x, name in zip(qs, names, strict=True)]


def thresholds(steps: Steps) -> db.ThresholdsConfig:
    base = dm.Threshold(value=None, color="green")
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([base, *(dm.Threshold(value=value, color=color) for value, color in steps)])
    )


def reduce_last() -> cb.ReduceDataOptions:
    return cb.ReduceDataOptions().calcs(["lastNotNull"]).fields("").values(False)


def _panel(
    builder: P, title: str, queries: tuple[Dataquery, ...], *, unit: str, description: str, w: int, h: int
) -> P:
    """What every panel has: title, data source, size, unit, and its queries with refIds A, B, …"""
    builder.title(title).datasource(DS).span(w).height(h)
    builder.targets([query.ref_id(chr(ord("A") + i)) for i, query in enumerate(queries)])
    if unit:
        builder.unit(unit)
    if description:
        builder.description(description)
    return builder


def ts(
    title: str,
    *queries: Dataquery,
    unit: str = "short",
    description: str = "",
    w: int = 12,
    stack: bool = False,
    bars: bool = False,
    steps: Steps = (),
) -> timeseries.Panel:
    panel = (
        _panel(timeseries.Panel(), title, queries, unit=unit, description=description, w=w, h=8)
        .min(0)
        .color_scheme(db.FieldColor().mode(dm.FieldColorModeId.PALETTE_CLASSIC))
        .draw_style(cm.GraphDrawStyle.BARS if bars else cm.GraphDrawStyle.LINE)
        .line_width(1)
        .fill_opacity(80 if bars else 10)
        .show_points(cm.VisibilityMode.NEVER)
        .span_nulls(False)
        .stacking(
            cb.StackingConfig().mode(cm.StackingMode.NORMAL if stack else cm.StackingMode.NONE).group("A")
        )
        .legend(
            cb.VizLegendOptions()
            .display_mode(cm.LegendDisplayMode.LIST)
            .placement(cm.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(cb.VizTooltipOptions().mode(cm.TooltipDisplayMode.MULTI).sort(cm.SortOrder.DESCENDING))
    )
    if steps:
        panel.thresholds_style(cb.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.DASHED))
        panel.thresholds(thresholds(steps))
    return panel


def rates(
    title: str, by: str, selector: str, *, unit: str = "ops", description: str = ""
) -> timeseries.Panel:
    """Per-second rates summed by the labels `by`, stacked, each series named by its labels."""
    return ts(title, q(sum_rate(selector, by), legend(by)), unit=unit, stack=True, description=description)


def big(
    title: str, *queries: Dataquery, unit: str = "short", description: str = "", steps: Steps = ()
) -> stat.Panel:
    """A stat panel: the last value, coloured by the thresholds."""
    return (
        _panel(stat.Panel(), title, queries, unit=unit, description=description, w=6, h=4)
        .color_scheme(db.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
        .thresholds(thresholds(steps))
        .reduce_options(reduce_last())
        .color_mode(cm.BigValueColorMode.VALUE)
        .graph_mode(cm.BigValueGraphMode.AREA)
        .justify_mode(cm.BigValueJustifyMode.AUTO)
        .orientation(cm.VizOrientation.AUTO)
        .text_mode(cm.BigValueTextMode.AUTO)
    )


def bars(title: str, by: str, expr: str, *, description: str = "", w: int = 12, h: int = 8) -> bargauge.Panel:
    """Horizontal bars of an instant query, sorted descending, one bar per `by` label set."""
    query = q(f"sort_desc({expr})", legend(by), instant=True)
    return (
        _panel(bargauge.Panel(), title, (query,), unit="short", description=description, w=w, h=h)
        .min(0)
        .color_scheme(db.FieldColor().mode(dm.FieldColorModeId.CONTINUOUS_GR_YL_RD))
        .display_mode(cm.BarGaugeDisplayMode.GRADIENT)
        .orientation(cm.VizOrientation.HORIZONTAL)
        .reduce_options(reduce_last())
        .show_unfilled(True)
    )


def grid(
    title: str, *queries: Dataquery, description: str = "", rename: dict[str, str], percent: str
) -> table.Panel:
    """A table merging instant queries (one column each), the Time column hidden, the `percent`
    column shown as a coloured percentage."""
    organize = {"excludeByName": {"Time": True}, "renameByName": rename, "indexByName": {}}
    return (
        _panel(table.Panel(), title, queries, unit="", description=description, w=24, h=12)
        .align(cm.FieldTextAlignment.AUTO)
        .filterable(True)
        .override_by_name(
            percent,
            [
                dm.DynamicConfigValue(id_val="unit", value="percentunit"),
                dm.DynamicConfigValue(
                    id_val="custom.cellOptions", value=cm.TableColoredBackgroundCellOptions()
                ),
                dm.DynamicConfigValue(id_val="thresholds", value=thresholds(()).build()),
            ],
        )
        .show_header(True)
        .cell_height(cm.TableCellHeight.SM)
        .footer(cb.TableFooterOptions().show(False).reducer(["sum"]))
        .transformations(
            [
                dm.DataTransformerConfig(id_val="merge", options={}),
                dm.DataTransformerConfig(id_val="organize", options=organize),
            ]
        )
    )


def query_var(name: str, label: str, query: str, *, current: str = "") -> db.QueryVariable:
    """A multi-value label variable with "All" (`.*`), refreshed with the time range."""
    shown = current or "All"
    return (
        db.QueryVariable(name)
        .label(label)
        .datasource(DS)
        .definition(query)
        .query({"query": query, "refId": f"{name}-query"})
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(dm.VariableOption(selected=True, text=[shown], value=[current or "$__all"]))
    )


def label_var(name: str, label: str, metric: str, selector: str = 'job="onecard"') -> db.QueryVariable:
    return query_var(name, label, f"label_values({metric}{{{selector}}}, {name})")


def dashboard(
    uid: str, title: str, description: str, variables: list[db.QueryVariable], items: list[Item]
) -> dm.Dashboard:
    """A dashboard of the onecard folder: panels laid out left to right by the SDK (rows start a
    new line), numbered 1, 2, … in order."""
    builder = (
        db.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["onecard"])
        .timezone("browser")
        .editable()
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .fiscal_year_start_month(0)
        .live_now(False)
        .version(1)
        .refresh("30s")
        .time("now-6h", "now")
        .annotation(
            db.AnnotationQuery()
            .name("Annotations & Alerts")
            .datasource(cm.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
            .built_in(1)
            .enable(True)
            .hide(True)
            .icon_color("rgba(0, 211, 255, 1)")
            .type("dashboard")
        )
        .link(
            db.DashboardLink("onecard")
            .type(dm.DashboardLinkType.DASHBOARDS)
            .tags(["onecard"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
            .icon("external link")
            .target_blank(False)
        )
        .variables(
            [
                db.DatasourceVariable("datasource").label("Data source").type("prometheus"),
                label_var("namespace", "Namespace", "up"),
                *variables,
            ]
        )
    )
    for item in items:
        if isinstance(item, db.Row):
            builder.with_row(item)
        else:
            builder.with_panel(item)
    built = builder.build()
    for pid, panel in enumerate(built.panels or [], start=1):
        panel.id_val = pid
    # The SDK fills the optional `placement` with its only value, "inControlsMenu", which moves the
    # link and annotation toggle into Grafana 12's controls menu (grafana-foundation-sdk#1202,
    # #1272). Unset it: Grafana's default, above the panels.
    placed: list[dm.DashboardLink | dm.AnnotationQuery] = [*(built.links or [])]
    placed += built.annotations.list_val or []
    for control in placed:
        control.placement = None  # type: ignore[assignment]
    return built


# ----------------------------------------------------------------------------------------------
# The dashboards
# ----------------------------------------------------------------------------------------------

Board = tuple[list[db.QueryVariable], list[Item]]
DASHBOARDS: dict[str, Callable[[], dm.Dashboard]] = {}  # by uid, which is also the file name


def board(uid: str, title: str) -> Callable[[Callable[[], Board]], Callable[[], Board]]:
    """Register a dashboard: its variables and panels from the function, its description from the
    function's docstring."""

    def register(fn: Callable[[], Board]) -> Callable[[], Board]:
        description = " ".join((fn.__doc__ or "").split())
        DASHBOARDS[uid] = lambda: dashboard(uid, title, description, *fn())
        return fn

    return register


@board("onecard-platform", "onecard / Platform overview")
def platform() -> Board:
    """Traffic, errors and latency per service; the outbox relay, event store, consumers and
    projections."""
    svc = f'{JOB}, service=~"$service"'
    api = f'{svc}, route!~".*/(healthz|readyz|metrics)"'
    req = f"onecard_http_requests_total{{{svc}}}"
    err5 = f'onecard_http_requests_total{{{svc}, status=~"5.."}}'
    err45 = f'onecard_http_requests_total{{{svc}, status=~"4..|5.."}}'
    lat = f"onecard_http_request_duration_seconds_bucket{{{api}}}"
    by_svc = "service"
    panels: list[Item] = [
        db.Row("Traffic"),
        big(
            "Targets up",
            q(f"sum(up{{{svc}}})", "up", instant=True),
            description="Scrape targets (pods) answering on /<service>/metrics.",
        ),
        big(
            "Targets down",
            q(f"count(up{{{svc}}} == 0) or vector(0)", "down", instant=True),
            steps=((1, "red"),),
        ),
        big("Requests/s", q(sum_rate(req), "req/s"), unit="reqps"),
        big(
            "5xx ratio",
            # `or vector(0)`: a healthy platform has no 5xx series; show 0 %, not "No data".
            q(f"({sum_rate(err5)} or vector(0)) / {sum_rate(req)}", "5xx"),
            steps=((0.01, "orange"), (0.05, "red")),
            unit="percentunit",
        ),
        rates("Requests/s by service", by_svc, req, unit="reqps"),
        rates("Requests/s by status", "status", req, unit="reqps"),
        db.Row("Errors"),
        ts(
            "5xx ratio by service",
            q(
                f"({sum_rate(err5, by_svc)} or 0 * {sum_rate(req, by_svc)}) / {sum_rate(req, by_svc)}",
                legend(by_svc),
            ),
            steps=((0.05, "red"),),
            description="Alert OnecardHighErrorRatio fires above 5% for 5 minutes.",
            unit="percentunit",
        ),
        ts(
            "4xx and 5xx by route (top 10)",
            q(
                f"topk(10, {sum_rate(err45, 'service, method, route, status')})",
                "{{status}} {{method}} {{route}}",
            ),
            unit="reqps",
        ),
        ts(
            "Rate-limited requests/s (429) by service and limit",
            q(
                sum_rate(f"onecard_http_rate_limited_total{{{svc}}}", "service, limit"),
                legend("service, limit"),
            ),
            unit="reqps",
            stack=True,
            w=24,
            description=(
                "Requests refused before they were read, by the token bucket that ran out: a role's "
                "(per credential) or the source address's. Per replica (docs/operations.md)."
            ),
        ),
        db.Row("Latency"),
        ts(
            "Latency p50 / p99 by service",
            *quantiles(lat, 0.5, 0.99),
            steps=((1, "red"),),
            description=(
                "Probes and scrapes left out. Alert OnecardHighLatencyP99 fires above 1 s for 10 minutes."
            ),
            unit="s",
        ),
        ts(
            "Latency p99 by route (top 10)",
            q(f"topk(10, {quantile(0.99, 'service, method, route', lat)})", "{{method}} {{route}}"),
            unit="s",
        ),
        db.Row("Events: outbox relay and event store"),
        ts(
            "Relay backlog by service",
            max_by(by_svc, f"onecard_relay_backlog_events{{{svc}}}"),
            steps=((500, "orange"),),
            description=(
                "Committed events the relay read in its last batch (at most 1000): near-full batches "
                "mean it is behind. Only the pod holding the relay's advisory lock reports non-zero."
            ),
        ),
        rates("Events published to Kafka/s", by_svc, f"onecard_relay_published_events_total{{{svc}}}"),
        ts(
            "Commit to broker ack p99",
            *quantiles(f"onecard_relay_publish_seconds_bucket{{{svc}}}", 0.99),
            unit="s",
        ),
        ts(
            "Event store append p99",
            *quantiles(f"onecard_eventstore_append_seconds_bucket{{{svc}}}", 0.99),
            unit="s",
        ),
        ts(
            "Event store append batch size (p50 / p99)",
            *quantiles(f"onecard_eventstore_append_batch_size_bucket{{{svc}}}", 0.5, 0.99),
            description="Events per group commit.",
        ),
        db.Row("Consumers and projections"),
        ts(
            "Consumer lag by service, consumer and topic",
            q(
                "sum by (service, consumer, topic) "
                f"(max by (service, consumer, topic, partition) (onecard_consumer_lag_messages{{{svc}}}))",
                "{{service}} {{consumer}} {{topic}}",
            ),
            steps=((10000, "red"),),
            description=(
                "Unread messages summed over partitions. "
                "Alert OnecardConsumerLagHigh: above 10000 for 10 minutes."
            ),
        ),
        ts(
            "Projection lag",
            max_by("service, projection", f"onecard_projection_lag_seconds{{{svc}}}"),
            steps=((60, "red"),),
            description=(
                "Age of the newest event a read model has applied. "
                "Alert OnecardProjectionLagHigh: above 60 s for 5 minutes."
            ),
            unit="s",
        ),
        ts(
            "Dead-lettered events",
            q(increase(f"onecard_dlq_events_total{{{JOB}}}", "topic"), "{{topic}}"),
            bars=True,
            w=24,
            description="Inbound partner events that failed validation (partner.<region>.onecard.v1.dlq).",
        ),
    ]
    return [label_var("service", "Service", "up", JOB)], panels


@board("onecard-card-use", "onecard / Card use")
def card_use() -> Board:
    """Verifications at venues, payments, disbursements and the flows with partner regions."""
    verifications = f'onecard_verifications_total{{{JOB}, method=~"$method"'
    ver, refused = f"{verifications}}}", f'{verifications}, result="refused"}}'
    cross, cross_refused = (
        f'{verifications}, cross_region="true"}}',
        f'{verifications}, cross_region="true", result="refused"}}',
    )
    pay = f"onecard_payments_total{{{JOB}}}"
    dis = f"onecard_disbursements_total{{{JOB}}}"
    partner_dlq = f'onecard_dlq_events_total{{{JOB}, topic=~"{PARTNER_INBOUND}"}}'
    panels: list[Item] = [
        db.Row("Verifications at venues"),
        big("Verifications/s", q(sum_rate(ver), "verifications/s"), unit="ops"),
        big(
            "Refused",
            q(ratio(refused, ver), "refused"),
            steps=((0.05, "orange"), (0.2, "red")),
            unit="percentunit",
        ),
        big("Cross-region share", q(ratio(cross, ver), "cross-region"), unit="percentunit"),
        big(
            "Payments settled/s",
            q(sum_rate(f'onecard_payments_total{{{JOB}, status="settled"}}'), "settled/s"),
            unit="ops",
        ),
        rates("Verifications/s by method and result", "method, result", ver),
        bars(
            "Refusal reasons (selected range)",
            "reason",
            increase(refused, "reason", "$__range"),
            description=(
                "invalid_ssn, unknown_card, card_lost, card_cancelled, qr_expired, qr_reused, "
                "qr_bad_signature, no_terminal, …"
            ),
        ),
        db.Row("Cross-region flows"),
        rates(
            "Partner cards verified here/s (inbound) by method and result",
            "method, result",
            cross,
            description='Verifications of cards issued in a partner region (cross_region="true").',
        ),
        rates("Cross-region refusal reasons", "reason", cross_refused),
        ts(
            "Partner streams: dead-lettered inbound events",
            q(increase(partner_dlq, "topic"), "{{topic}}"),
            bars=True,
            description="Events from partner.<region>.onecard.v1 that failed validation and went to the DLQ.",
        ),
        db.Row("Payments"),
        rates("Payments/s by method and status", "method, status", pay),
        ts(
            "Decline ratio by method",
            q(
                ratio(
                    f'onecard_payments_total{{{JOB}, status="declined"}}',
                    f'onecard_payments_total{{{JOB}, status=~"settled|declined"}}',
                    "method",
                ),
                "{{method}}",
            ),
            unit="percentunit",
        ),
        db.Row("Disbursements"),
        rates("Payee outcomes/s by channel and outcome", "channel, outcome", dis),
        ts(
            "Failed or returned share by channel",
            q(
                ratio(f'onecard_disbursements_total{{{JOB}, outcome=~"failed|returned"}}', dis, "channel"),
                "{{channel}}",
            ),
            unit="percentunit",
        ),
        bars(
            "Payee outcomes (selected range)",
            "channel, outcome",
            increase(dis, "channel, outcome", "$__range"),
            w=24,
            h=6,
        ),
    ]
    return [label_var("method", "Verification method", "onecard_verifications_total", JOB)], panels


@board("onecard-depth", "onecard / Depth against plan")
def depth() -> Board:
    """Application depth of the card per jurisdiction, department, item and category, against the
    plan."""
    sel = (
        'job="onecard", namespace=~"$namespace", jurisdiction=~"$jurisdiction", '
        'department=~"$department", category=~"$category", item_id=~"$item_id"'
    )
    by = "jurisdiction, department, item_id, category"

    def m(metric: str) -> str:
        return f"max by ({by}) ({metric}{{{sel}}})"

    level, planned, ratio_ = (
        m("onecard_depth_level"),
        m("onecard_depth_planned_level"),
        m("onecard_depth_ratio"),
    )
    behind = f"{level} < on ({by}) {planned}"
    met = f"{level} >= on ({by}) {planned}"
    panels: list[Item] = [
        db.Row("Against plan"),
        big(
            "Behind plan",
            q(f"count({behind}) or vector(0)", "behind", instant=True),
            steps=((1, "orange"),),
            description="Item × category rows whose achieved level is below the plan.",
        ),
        big("Meeting plan", q(f"count({met}) or vector(0)", "met", instant=True)),
        big("Mean depth ratio", q(f"avg({ratio_})", "ratio", instant=True), unit="percentunit"),
        big(
            "Mean achieved / planned level",
            q(f"avg({level})", "achieved", instant=True),
            q(f"avg({planned})", "planned", instant=True),
        ),
        bars("Behind-plan rows by jurisdiction", "jurisdiction", f"count by (jurisdiction) ({behind})"),
        bars("Behind-plan rows by department", "department", f"count by (department) ({behind})"),
        grid(
            "Depth against plan per item",
            *(q(expr, as_table=True) for expr in (level, planned, ratio_)),
            rename={
                "Value #A": "achieved level",
                "Value #B": "planned level",
                "Value #C": "ratio",
                "item_id": "item",
                "jurisdiction": "jurisdiction",
                "department": "department",
                "category": "category",
            },
            percent="ratio",
            description='One row per item and category (category "overall" is the item\'s lowest level).',
        ),
        db.Row("Over time"),
        ts(
            "Mean depth ratio by department",
            q(f"avg by (department) ({ratio_})", "{{department}}"),
            unit="percentunit",
        ),
        ts(
            "Shortfall (planned − achieved levels) by jurisdiction",
            q(f"sum by (jurisdiction) (clamp_min({planned} - on ({by}) {level}, 0))", "{{jurisdiction}}"),
            stack=True,
        ),
    ]
    lv = "onecard_depth_level"
    in_j = f'{JOB}, jurisdiction=~"$jurisdiction"'
    in_jd = f'{in_j}, department=~"$department"'
    variables = [
        label_var("jurisdiction", "Jurisdiction", lv, JOB),
        label_var("department", "Department", lv, in_j),
        query_var("category", "Category", f"label_values({lv}{{{in_jd}}}, category)", current="overall"),
        label_var("item_id", "Item", lv, in_jd),
    ]
    return variables, panels


def render() -> dict[Path, str]:
    """Every generated file and its content."""
    files: dict[Path, str] = {}
    for name, build in DASHBOARDS.items():
        text = json.dumps(build(), cls=JSONEncoder, indent=2, ensure_ascii=False) + "\n"
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
        print("run: .venv/bin/python deploy/grafana/build.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
