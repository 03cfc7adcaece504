// The web board's live updates, keyboard and pointer pan/zoom. Plain ES module, no
// dependencies. A page marks one region with data-live (the URL of its fragment) and
// data-stream (an event stream); every event schedules one re-read of the fragment,
// throttled, so a burst of events is one swap (no flicker). A region holding the
// keyboard focus (someone typing feedback) is not swapped until focus leaves it.
// The run board also keeps an activity list from its run's events, each seq once:
// the browser resumes a dropped stream with Last-Event-ID, and repeats are dropped.

const region = document.querySelector("[data-live]");
const status = document.getElementById("live-status");
const feed = region && region.dataset.feed ? document.getElementById(region.dataset.feed) : null;
const seen = new Set();
let maxSeen = 0;
const FEED_MAX = 500;

function say(text) {
  if (status) status.textContent = text;
}

let timer = null;
let inFlight = false;
let again = false;
let last = 0;

function schedule() {
  if (!region) return;
  const minMs = Number(region.dataset.minMs || 250);
  if (inFlight) { again = true; return; }
  if (timer) return;
  const wait = Math.max(0, last + minMs - Date.now());
  timer = setTimeout(refresh, wait);
}

function editing() {
  // A field with focus, or one typed into and not yet sent: do not swap it away.
  const focused = region.contains(document.activeElement)
    && /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName);
  const typed = [...region.querySelectorAll("input[type=text], input:not([type]), textarea")]
    .some((field) => field.value !== field.defaultValue);
  return focused || typed;
}

async function refresh() {
  timer = null;
  if (editing()) {
    region.addEventListener("focusout", schedule, { once: true });
    region.addEventListener("submit", schedule, { once: true });
    return;
  }
  inFlight = true;
  last = Date.now();
  try {
    const response = await fetch(region.dataset.live, { credentials: "same-origin" });
    if (response.status === 401) { window.location.reload(); return; }
    if (response.ok) {
      const html = await response.text();
      region.innerHTML = html;
      document.dispatchEvent(new CustomEvent("baton:swapped"));
    }
  } catch (err) {
    say("offline: retrying");
  } finally {
    inFlight = false;
    if (again) { again = false; schedule(); }
  }
}

function record(event) {
  if (!feed) return;
  let data;
  try { data = JSON.parse(event.data); } catch { return; }
  if (typeof data.seq !== "number" || seen.has(data.seq)) return;
  seen.add(data.seq);
  maxSeen = Math.max(maxSeen, data.seq);
  const item = document.createElement("li");
  item.dataset.seq = String(data.seq);
  const when = new Date(data.at * 1000).toLocaleTimeString();
  const task = data.task_id ? " " + data.task_id.split("/").pop() : "";
  item.textContent = `#${data.seq} ${when} ${data.actor}: ${data.kind}${task}`;
  feed.prepend(item);
  while (feed.children.length > FEED_MAX) feed.lastElementChild.remove();
}

let opened = 0;
let backoff = 1000;

function connect(url) {
  const source = new EventSource(url);
  source.onopen = () => {
    say("live");
    backoff = 1000;
    // Back after a drop: re-read what we show (changes made meanwhile), once.
    if (opened++ > 0) schedule();
  };
  source.onmessage = (e) => { record(e); schedule(); };
  source.addEventListener("change", schedule);
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      // The server refused or ended the stream (signed out, restarted): a re-read tells
      // which (a 401 reloads to the sign-in page); then start again from what we saw.
      say("reconnecting…");
      source.close();
      schedule();
      const next = new URL(url, window.location.href);
      if (maxSeen > 0) next.searchParams.set("after", String(maxSeen));
      setTimeout(() => connect(next.toString()), backoff);
      backoff = Math.min(backoff * 2, 30000);
    } else {
      say("reconnecting…");
    }
  };
  window.batonStream = source;
  return source;
}

if (region && region.dataset.stream) {
  connect(region.dataset.stream);
}

// --- pan and zoom of the dependency graph --------------------------------------------
let drag = null;
window.addEventListener("pointerup", () => { drag = null; });
function graph() {
  const svg = document.querySelector("svg.graph");
  if (!svg) return;
  const full = { w: Number(svg.dataset.width), h: Number(svg.dataset.height) };
  const view = window.batonView || { x: 0, y: 0, w: full.w, h: full.h };
  window.batonView = view;
  const apply = () => svg.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`);
  const zoom = (f) => {
    const cx = view.x + view.w / 2, cy = view.y + view.h / 2;
    view.w *= f; view.h *= f; view.x = cx - view.w / 2; view.y = cy - view.h / 2; apply();
  };
  apply();
  if (svg.dataset.wired) return;
  svg.dataset.wired = "1";
  svg.addEventListener("wheel", (e) => { e.preventDefault(); zoom(e.deltaY > 0 ? 1.2 : 1 / 1.2); }, { passive: false });
  svg.addEventListener("pointerdown", (e) => { drag = { x: e.clientX, y: e.clientY }; });
  svg.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const scale = view.w / svg.clientWidth;
    view.x -= (e.clientX - drag.x) * scale; view.y -= (e.clientY - drag.y) * scale;
    drag = { x: e.clientX, y: e.clientY }; apply();
  });
  svg.addEventListener("keydown", (e) => {
    const step = view.w / 10;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[e.key]) { view.x += moves[e.key][0]; view.y += moves[e.key][1]; apply(); e.preventDefault(); }
    if (e.key === "+" || e.key === "=") zoom(1 / 1.2);
    if (e.key === "-") zoom(1.2);
  });
}
document.querySelectorAll("[data-zoom]").forEach((button) => {
  button.addEventListener("click", () => {
    const svg = document.querySelector("svg.graph");
    const view = window.batonView;
    if (!svg || !view) return;
    const kind = button.dataset.zoom;
    if (kind === "fit") {
      Object.assign(view, { x: 0, y: 0, w: Number(svg.dataset.width), h: Number(svg.dataset.height) });
      svg.setAttribute("viewBox", `0 0 ${view.w} ${view.h}`);
      return;
    }
    const f = kind === "in" ? 1 / 1.2 : 1.2;
    const cx = view.x + view.w / 2, cy = view.y + view.h / 2;
    view.w *= f; view.h *= f; view.x = cx - view.w / 2; view.y = cy - view.h / 2;
    svg.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`);
  });
});
graph();
document.addEventListener("baton:swapped", graph);
