// Draws the console's charts with Apache ECharts from the figures the page carries
// (<script id="figures">). The tables below the charts hold the same figures without script.
(function () {
  "use strict";
  var LABELS = { identity: "身份识别", disbursement: "资金发放", payment: "缴费支付" };
  var COLOURS = { met: "#1a7f37", behind: "#cf222e", no_plan: "#8c959f" };

  function chart(id, option) {
    var node = document.getElementById(id);
    if (!node || typeof echarts === "undefined") return;
    var drawn = echarts.init(node, null, { renderer: "svg" });
    drawn.setOption(Object.assign({ animation: false, tooltip: { trigger: "axis" } }, option));
    window.addEventListener("resize", function () { drawn.resize(); });
  }

  function percent(value) { return value === null ? null : Math.round(value * 100); }

  function draw(figures) {
    var items = figures.items;
    var rows = [];
    items.forEach(function (item) {
      item.categories.forEach(function (row) {
        rows.push({ label: item.label + " · " + (LABELS[row.category] || row.category), row: row });
      });
    });
    chart("chart-depth", {
      title: { text: "已达深度与计划深度", left: "center", textStyle: { fontSize: 14 } },
      legend: { bottom: 0, data: ["已达深度", "计划深度"] },
      grid: { left: 8, right: 16, top: 32, bottom: 32, containLabel: true },
      xAxis: { type: "value", min: 0, max: 3, interval: 1 },
      yAxis: { type: "category", data: rows.map(function (r) { return r.label; }), inverse: true },
      series: [
        { name: "已达深度", type: "bar", data: rows.map(function (r) {
            return { value: r.row.level, itemStyle: { color: COLOURS[r.row.status] || "#0b5cad" } };
          }) },
        { name: "计划深度", type: "bar", itemStyle: { color: "#d0d7de" },
          data: rows.map(function (r) { return r.row.planned_level; }) }
      ]
    });
    chart("chart-ratios", {
      title: { text: "覆盖率、活跃率与占比（%）", left: "center", textStyle: { fontSize: 14 } },
      legend: { bottom: 0 },
      grid: { left: 8, right: 16, top: 32, bottom: 48, containLabel: true },
      xAxis: { type: "value", min: 0, max: 100 },
      yAxis: { type: "category", data: items.map(function (i) { return i.label; }), inverse: true },
      series: [
        ["身份识别覆盖率", "identity_ratio"], ["活跃率", "active_ratio"],
        ["资金发放社保卡占比", "disbursement_share"], ["缴费支付协议商户占比", "payment_share"]
      ].map(function (s) {
        return { name: s[0], type: "bar", data: items.map(function (i) { return percent(i[s[1]]); }) };
      })
    });
    chart("chart-trend", {
      title: { text: "应用深度变化（近半年）", left: "center", textStyle: { fontSize: 14 } },
      legend: { bottom: 0, type: "scroll" },
      grid: { left: 8, right: 16, top: 32, bottom: 40, containLabel: true },
      xAxis: { type: "time", minInterval: 86400000 },  // days, not hours
      yAxis: { type: "value", min: 0, max: 3, interval: 1 },
      series: items.map(function (item) {
        return { name: item.label, type: "line", step: "end", showSymbol: true,
          data: item.trend.map(function (p) { return [p.day, p.level]; }) };
      })
    });
    var partners = {};
    figures.cross_region.forEach(function (r) {
      var p = partners[r.partner] || (partners[r.partner] = { inbound: 0, outbound: 0 });
      p.inbound += r.inbound; p.outbound += r.outbound;
    });
    var codes = Object.keys(partners).sort();
    chart("chart-cross", {
      title: { text: "跨区域用卡（按合作地区）", left: "center", textStyle: { fontSize: 14 } },
      legend: { bottom: 0, data: ["流入", "流出"] },
      grid: { left: 8, right: 16, top: 32, bottom: 32, containLabel: true },
      xAxis: { type: "category", data: codes.length ? codes : ["—"] },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: "流入", type: "bar", data: codes.map(function (c) { return partners[c].inbound; }) },
        { name: "流出", type: "bar", data: codes.map(function (c) { return partners[c].outbound; }) }
      ]
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var data = document.getElementById("figures");
    if (data) draw(JSON.parse(data.textContent));
  });
})();
