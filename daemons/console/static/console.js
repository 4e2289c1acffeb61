// The manager console page: one live stream of sections from the server, one renderer per view.
// All text goes in through textContent, never as HTML, so nothing from the bus can become markup.
"use strict";

const state = {};
const csrf = document.querySelector('meta[name="csrf-token"]').content;

const MODES = {
  closed: "未开放 / closed", idle: "空闲 / idle", calling: "呼叫中 / calling",
  serving: "办理中 / serving", paused: "暂停 / paused",
};
const LEVELS = [
  ["very_satisfied", "非常满意"], ["satisfied", "满意"], ["basically_satisfied", "基本满意"],
  ["dissatisfied", "不满意"], ["very_dissatisfied", "非常不满意"],
];
const PAPER = { ok: "正常 / ok", near_end: "将尽 / near end", out: "缺纸 / out",
                unknown: "未知 / unknown" };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else if (key === "onclick") node.addEventListener("click", value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function fill(id, ...children) {
  const target = document.getElementById(id);
  target.replaceChildren(...children.flat());
}

function minutes(seconds) {
  return seconds === null || seconds === undefined ? "—" : `${Math.round(seconds / 60)} 分钟 / min`;
}

function clock(ts) {
  // The hall's own time, whatever the browser's time zone.
  if (!ts) return "";
  const zone = state.hall ? state.hall.timezone : undefined;
  return new Date(ts).toLocaleTimeString("zh-CN", { hour12: false, timeZone: zone });
}

function say(text, bad) {
  const box = document.getElementById("message");
  box.textContent = text;
  box.className = bad ? "bad" : "good";
  clearTimeout(say.timer);
  say.timer = setTimeout(() => { box.textContent = ""; box.className = ""; }, 6000);
}

async function act(name, fields) {
  try {
    const response = await fetch(`/api/action/${name}`, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(fields),
    });
    const body = await response.json();
    if (response.status === 401) { location.href = "/login"; return null; }
    if (!response.ok) { say(body.error || response.statusText, true); return null; }
    say("已完成 / done", false);
    return body.data;
  } catch (error) {
    say(`网络错误 / network error: ${error}`, true);
    return null;
  }
}

// --- floor map, queues, alerts and feed --------------------------------------------------------

// The engine's staff_absent alert for a window counts as long as it is open: nobody acknowledged
// it, the window is still open and has not changed mode since (staff who call or serve are back),
// and no camera has seen the seat taken since. So a window without a camera of its own is shown
// absent too, for as long as the alert stands.
function absenceAlerted(w) {
  if (w.mode === "closed" || w.mode === "paused") return false;
  const seat = ((state.presence || {}).seats || {})[w.window_id];
  return (state.alerts || []).some((r) => {
    if (r.alert.kind !== "staff_absent" || r.alert.window_id !== w.window_id) return false;
    if (r.acknowledged_by) return false;
    const raised = Date.parse(r.raised_at);
    if (w.since && Date.parse(w.since) > raised) return false;
    return !(seat && seat.state === "present" && Date.parse(seat.since) > raised);
  });
}

function windowFlags(w) {
  const devices = (state.devices || []).filter((d) => d.window_id === w.window_id);
  const offline = devices.some((d) => !d.online);
  const seat = ((state.presence || {}).seats || {})[w.window_id];
  return { offline, absent: (seat && seat.state === "absent") || absenceAlerted(w) };
}

function renderFloor() {
  const queue = state.queue;
  if (!queue) return;
  const hall = state.hall || { staff: {} };
  fill("floor", queue.windows.map((w) => {
    const flags = windowFlags(w);
    const status = flags.offline ? "offline" : flags.absent ? "absent" : w.mode;
    const label = flags.offline ? "设备离线 / offline" : flags.absent ? "离岗 / absent"
      : MODES[w.mode] || w.mode;
    const button = w.mode === "paused"
      ? el("button", { class: "resume", onclick: () => act("resume", { window_id: w.window_id }) },
        "恢复 / Resume")
      : w.mode === "idle"
        ? el("button", { class: "pause", onclick: () => act("pause", { window_id: w.window_id,
          reason: "值班长暂停 / paused by the manager" }) }, "暂停 / Pause")
        : null;
    return el("div", { class: `window mode-${status}`, "data-window": w.window_id,
                       "data-mode": w.mode },
      el("div", { class: "number" }, `${w.number}`),
      el("div", { class: "name" }, w.name),
      el("div", { class: "ticket" }, w.current_ticket || ""),
      el("div", { class: "staff" }, w.staff_name || (w.staff_id ? hall.staff[w.staff_id] : "") || ""),
      el("div", { class: "mode" }, label),
      button);
  }));
  document.querySelector("#queues tbody").replaceChildren(...queue.services.map((s) =>
    el("tr", { "data-service": s.service_id, class: s.waiting ? "" : "quiet" },
      el("td", {}, `${s.prefix} ${s.name}`), el("td", { class: "num" }, s.waiting),
      el("td", {}, s.waiting ? minutes(s.estimated_wait_s) : "—"),
      el("td", {}, s.last_called || "—"))));
  fill("counters",
    el("span", {}, `营业日 / day ${queue.business_day}`),
    el("span", {}, `取号 / issued ${queue.issued_today}`),
    el("span", {}, `等候 / waiting ${queue.waiting}`),
    el("span", {}, `办结 / done ${queue.done_today}`),
    el("span", {}, `过号 / no-show ${queue.no_show_today}`));
}

function renderAlerts() {
  const open = (state.alerts || []).filter((r) => !r.acknowledged_by);
  fill("alerts", open.length ? open.map((r) => el("li", {
    class: `alert kind-${r.alert.kind}`, "data-alert": r.alert.alert_id },
    el("span", { class: "time" }, clock(r.raised_at)),
    el("span", { class: "text" }, r.alert.message),
    el("button", { class: "ack", onclick: () => act("acknowledge", { alert_id: r.alert.alert_id }) },
      "确认 / Acknowledge"))) : el("li", { class: "none" }, "无 / none"));
}

function renderFeed() {
  const alerts = new Map((state.alerts || []).map((r) => [r.alert.alert_id, r]));
  fill("feed", (state.feed || []).map((item) => {
    const record = item.alert_id ? alerts.get(item.alert_id) : null;
    const acked = record && record.acknowledged_by
      ? el("span", { class: "acked" }, `已确认 / acknowledged: ${record.acknowledged_by}`) : null;
    return el("li", { class: `feed-${item.level}`, "data-seq": item.seq },
      el("span", { class: "time" }, clock(item.ts)), el("span", { class: "text" }, item.text),
      item.actor ? el("span", { class: "actor" }, `(${item.actor})`) : null, acked);
  }));
}

// --- ratings, devices, screens -----------------------------------------------------------------

const FOLLOW_UP = { none: "—", pending: "待跟进 / pending", resolved: "已处理 / resolved" };

function staffName(id) {
  const name = id && state.hall ? state.hall.staff[id] : null;
  return name ? `${name} (${id})` : id || "";
}

function windowName(id) {
  const win = id && state.hall ? state.hall.windows.find((w) => w.id === id) : null;
  return win ? `${win.number} ${win.name}` : id || "";
}

function renderRatings() {
  const ratings = state.ratings || [];
  const counts = Object.fromEntries(LEVELS.map(([key]) => [key, 0]));
  if (state.report) {
    // The day's counts are the engine's; the list holds the bad ones and the latest others.
    state.report.services.forEach((row) => LEVELS.forEach(([key]) => {
      counts[key] += row.ratings[key] || 0;
    }));
  } else {
    ratings.forEach((r) => { counts[r.level] = (counts[r.level] || 0) + 1; });
  }
  fill("rating-levels", LEVELS.map(([key, label]) =>
    el("div", { class: `level level-${key}` }, el("strong", {}, counts[key]), el("span", {}, label))));
  const bad = ratings.filter((r) => r.level === "dissatisfied" || r.level === "very_dissatisfied");
  document.querySelector("#bad-ratings tbody").replaceChildren(...bad.map((r) =>
    el("tr", { class: "bad" }, el("td", {}, clock(r.rated_at)), el("td", {}, r.number),
      el("td", {}, r.level_zh), el("td", {}, r.reason || ""), el("td", {}, windowName(r.window_id)),
      el("td", {}, staffName(r.staff_id)), el("td", {}, FOLLOW_UP[r.follow_up] || r.follow_up))));
  document.querySelector("#all-ratings tbody").replaceChildren(...ratings.slice(0, 50).map((r) =>
    el("tr", {}, el("td", {}, clock(r.rated_at)), el("td", {}, r.number), el("td", {}, r.level_zh),
      el("td", {}, windowName(r.window_id)))));
}

function renderDevices() {
  // Faults first: that is what the manager opens this view for.
  const devices = [...(state.devices || [])].sort((a, b) => Number(a.online) - Number(b.online));
  const faults = devices.filter((d) => !d.online).length;
  fill("device-summary", el("span", { class: faults ? "bad" : "good" },
    `${devices.length - faults} 台正常，${faults} 台故障 / ${devices.length - faults} ok, ${faults} faulty`));
  document.querySelector("#devices tbody").replaceChildren(...devices.map((d) =>
    el("tr", { class: !d.online ? "bad" : (d.paper === "near_end" ? "warn" : ""), "data-device": d.key },
      el("td", {}, el("span", { class: d.online ? "dot ok" : "dot fault" }, "●"),
        d.online ? " 正常 / ok" : " 故障 / fault"), el("td", {}, d.name),
      el("td", {}, d.key), el("td", {}, windowName(d.window_id)),
      el("td", {}, d.paper ? PAPER[d.paper] || d.paper : ""), el("td", {}, d.detail || ""))));
  const crowding = (state.presence || {}).crowding || {};
  fill("crowding", Object.entries(crowding).map(([camera, area]) =>
    el("p", {}, `等候区 / waiting area (${camera}): ${area.count} 人 / people — ${area.label}`)));
}

function renderScreens() {
  fill("screens", (state.screens || []).map((s) => el("figure", { class: `screen ${s.kind}` },
    el("img", { src: `/screens/${s.line_id}/${s.device_id}.png?v=${s.version}`,
                alt: s.lines.join(" / ") }),
    el("figcaption", {}, s.kind === "hall_screen" ? `大厅屏 / hall screen ${s.device_id}`
      : `窗口屏 / strip ${s.window_id || s.device_id}`))));
}

// --- charts and report -------------------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function barChart(id, points, value, unit) {
  const width = 900, height = 220, left = 40, bottom = 30;
  const values = points.map(value);
  const top = Math.max(1, ...values.filter((v) => v !== null));
  const step = (width - left) / Math.max(1, points.length);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "bars", role: "img" });
  chart.append(svg("line", { x1: left, y1: height - bottom, x2: width, y2: height - bottom,
                             class: "axis" }));
  chart.append(svg("text", { x: 2, y: 14, class: "label" }, `${Math.round(top)} ${unit}`));
  points.forEach((point, i) => {
    const v = values[i];
    const x = left + i * step;
    if (v !== null) {
      const h = (height - bottom - 20) * v / top;
      const bar = svg("rect", { x: x + 2, y: height - bottom - h, width: Math.max(1, step - 4),
                                height: h, class: "bar" });
      bar.append(svg("title", {}, `${clock(point.start)}: ${Math.round(v)} ${unit}`));
      chart.append(bar);
    }
    if (i % 2 === 0) {
      chart.append(svg("text", { x: x + 2, y: height - 10, class: "label" },
        clock(point.start).slice(0, 5)));
    }
  });
  fill(id, chart);
}

function renderReport() {
  const report = state.report;
  if (!report) return;
  barChart("chart-arrivals", report.series, (p) => p.arrivals, "人 / people");
  barChart("chart-wait", report.series,
    (p) => p.mean_wait_s === null ? null : p.mean_wait_s / 60, "分 / min");
  document.getElementById("report-day").textContent = report.business_day;
  const head = ["名称 / Name", "取号 / Tickets", "办结 / Served", "过号 / No-shows",
    "平均等候 / Mean wait", "平均办理 / Mean service", ...LEVELS.map(([, label]) => label),
    "离岗 / Absences"];
  const table = (title, rows) => [el("h3", {}, title), el("table", { class: "grid report" },
    el("thead", {}, el("tr", {}, head.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.map((r) => el("tr", { "data-key": r.key },
      el("td", {}, r.name), el("td", { class: "num" }, r.tickets),
      el("td", { class: "num" }, r.served), el("td", { class: "num" }, r.no_shows),
      el("td", {}, minutes(r.mean_wait_s)), el("td", {}, minutes(r.mean_service_s)),
      LEVELS.map(([key]) => el("td", { class: "num" }, r.ratings[key] || 0)),
      el("td", { class: "num" }, r.absences)))))];
  fill("report", table("事项 / Services", report.services), table("窗口 / Windows", report.windows),
    table("工作人员 / Staff", report.staff));
}

function renderHall() {
  const hall = state.hall;
  if (!hall) return;
  document.querySelectorAll("select.services").forEach((select) => select.replaceChildren(
    ...hall.services.map((s) => el("option", { value: s.id }, `${s.prefix} ${s.name}`))));
  document.querySelectorAll("select.windows").forEach((select) => select.replaceChildren(
    ...(select.classList.contains("optional") ? [el("option", { value: "" }, "— 不移出 / keep —")] : []),
    ...hall.windows.map((w) => el("option", { value: w.id }, `${w.number} ${w.name}`))));
}

function renderNotice() {
  const notice = state.notice;
  fill("notice-now", notice
    ? [el("strong", {}, "当前公告 / Now showing: "), notice.text_zh,
       notice.text_en ? ` / ${notice.text_en}` : "",
       notice.until ? ` （至 / until ${clock(notice.until)}）` : ""]
    : "当前无公告 / no notice in force");
}

const RENDERERS = {
  hall: [renderHall, renderFloor], queue: [renderFloor],
  alerts: [renderAlerts, renderFeed, renderFloor],
  feed: [renderFeed], ratings: [renderRatings], devices: [renderDevices, renderFloor],
  screens: [renderScreens], presence: [renderFloor, renderDevices], report: [renderReport, renderRatings],
  notice: [renderNotice],
};

// --- wiring ------------------------------------------------------------------------------------

function connect() {
  const link = document.getElementById("link");
  const stream = new EventSource("/api/stream");
  stream.onopen = () => { link.className = "link up"; };
  stream.onmessage = (message) => {
    const update = JSON.parse(message.data);
    state[update.section] = update.data;
    (RENDERERS[update.section] || []).forEach((render) => render());
  };
  stream.onerror = () => {
    link.className = "link down";
    // EventSource retries by itself; a logged-out session gets a 401, so check once.
    fetch("/api/section/hall", { credentials: "same-origin" }).then((r) => {
      if (r.status === 401) location.href = "/login";
    });
  };
}

document.getElementById("tabs").addEventListener("click", (event) => {
  const view = event.target.dataset && event.target.dataset.view;
  if (!view) return;
  document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("active", b === event.target));
  document.querySelectorAll(".view").forEach((v) => v.classList.toggle("active", v.id === `view-${view}`));
});

document.querySelectorAll("form[data-action]").forEach((form) => {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = {};
    for (const input of form.querySelectorAll("input, select")) {
      fields[input.name] = input.type === "checkbox" ? input.checked : input.value;
    }
    if (await act(form.dataset.action, fields)) form.reset();
  });
  form.querySelectorAll("button[data-plain]").forEach((button) =>
    button.addEventListener("click", () => act(button.dataset.plain, {})));
});

connect();
