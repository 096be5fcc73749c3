// OpenReel's web page: the same /v1 API any client uses, no build step, nothing fetched from elsewhere.
// Videos are fetched with the key in an Authorization header and played from blob: URLs, so the key
// never appears in a URL or a log line.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const state = { model: null, cards: new Map(), blobs: new Map(), pollMs: 1000, timer: null };
const KEY_STORE = "openreel.apiKey";

function apiKey() { return $("#api-key").value.trim(); }

async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  if (apiKey()) headers.set("Authorization", `Bearer ${apiKey()}`);
  const res = await fetch(path, { ...options, headers });
  const poll = res.headers.get("openai-poll-after-ms");
  if (poll) state.pollMs = Math.max(250, Number(poll));
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try { message = (await res.json()).error.message; } catch (_) { /* not JSON */ }
    const err = new Error(message);
    err.status = res.status;
    throw err;
  }
  return res;
}

function showError(message) {
  const box = $("#error");
  box.textContent = message || "";
  box.hidden = !message;
}

async function loadModel() {
  const health = await (await fetch("/health")).json();
  const mode = $("#auth-mode");
  mode.textContent = health.auth === "open" ? "open mode: no key needed" : "API key required";
  mode.classList.toggle("open", health.auth === "open");
  const model = (await (await api("/v1/models")).json()).data[0];
  state.model = model;
  $("#model").textContent = model.id;
  const info = model.openreel, d = info.defaults;
  const select = $("#size");
  select.replaceChildren();
  const defaultSize = `${d.width}x${d.height}`;
  const sizes = new Map([[defaultSize, `${defaultSize} (default)`]]);
  for (const [aspect, size] of Object.entries(info.sizes)) if (!sizes.has(size)) sizes.set(size, `${size} (${aspect})`);
  const small = `${info.size_multiple * 2}x${info.size_multiple * 2}`;
  if (!sizes.has(small)) sizes.set(small, `${small} (fast preview)`);
  for (const [value, label] of sizes) select.append(new Option(label, value));
  $("#seconds").value = (d.frames - 1) / d.fps;
  $("#seconds").step = info.frame_stride / d.fps;
  $("#num_inference_steps").placeholder = d.steps;
  $("#guidance_scale").placeholder = d.guidance;
  $("#fps").placeholder = d.fps;
  $("#num_frames").placeholder = `${d.frames} (${info.frame_stride}n+1)`;
  const l = info.limits;
  $("#limits").textContent = `Limits: ${l.max_pixels} pixels per frame, ${l.max_frames} frames, ${l.max_steps} steps, ` +
    `${l.max_prompt_chars} prompt characters. Sizes are multiples of ${info.size_multiple}; ` +
    `frames are ${info.frame_stride}n+1 (seconds × fps + 1).`;
}

function formBody() {
  const body = { prompt: $("#prompt").value, size: $("#size").value };
  if (state.model) body.model = state.model.id;
  const frames = $("#num_frames").value;
  if (frames) body.num_frames = Number(frames);
  else if ($("#seconds").value) body.seconds = String($("#seconds").value);
  for (const [id, cast] of [["seed", Number], ["negative_prompt", String], ["num_inference_steps", Number],
                            ["guidance_scale", Number], ["fps", Number]]) {
    const v = $(`#${id}`).value;
    if (v !== "") body[id] = cast(v);
  }
  return body;
}

async function submit(event) {
  event.preventDefault();
  showError("");
  const button = $("#submit");
  button.disabled = true;
  try {
    const res = await api("/v1/videos", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(formBody()),
    });
    render(await res.json(), true);
    schedulePoll(0);
  } catch (err) {
    showError(err.message);
  } finally {
    button.disabled = false;
  }
}

function card(video) {
  let el = state.cards.get(video.id);
  if (el) return el;
  el = $("#card-template").content.firstElementChild.cloneNode(true);
  el.dataset.id = video.id;
  $(".delete", el).addEventListener("click", () => remove(video.id));
  state.cards.set(video.id, el);
  return el;
}

function render(video, prepend = false) {
  const el = card(video);
  const gallery = $("#gallery");
  if (!el.isConnected) prepend ? gallery.prepend(el) : gallery.append(el);
  el.dataset.status = video.status;
  $(".prompt", el).textContent = video.prompt;
  const s = video.settings;
  $(".meta", el).textContent = `${video.size} · ${video.seconds} s · ${s.frames} frames @ ${s.fps} fps · ` +
    `${s.steps} steps · seed ${s.seed}`;
  const status = $(".status", el);
  status.textContent = video.status.replace("_", " ");
  status.className = `status ${video.status}`;
  $("progress", el).value = video.progress;
  $(".pct", el).textContent = `${video.progress}%`;
  $(".placeholder", el) && ($(".placeholder", el).textContent = video.status.replace("_", " "));
  const failure = $(".failure", el);
  failure.hidden = video.status !== "failed";
  if (video.error) failure.textContent = video.error.message;
  if (video.status === "completed") showResult(el, video);
  $("#empty").hidden = state.cards.size > 0;
}

async function showResult(el, video) {
  if (state.blobs.has(video.id)) return;
  state.blobs.set(video.id, null);  // loading
  const record = $(".record", el);
  $("pre", record).textContent = JSON.stringify(video.record, null, 2);
  record.hidden = false;
  try {
    const blob = await (await api(`/v1/videos/${video.id}/content`)).blob();
    const url = URL.createObjectURL(blob);
    state.blobs.set(video.id, url);
    const player = document.createElement("video");
    Object.assign(player, { src: url, controls: true, loop: true, muted: true, playsInline: true, autoplay: true });
    $(".media", el).replaceChildren(player);
    const link = $(".download", el);
    Object.assign(link, { href: url, download: `${video.id}.mp4`, hidden: false });
  } catch (err) {
    state.blobs.delete(video.id);
    $(".failure", el).hidden = false;
    $(".failure", el).textContent = `could not load the video: ${err.message}`;
  }
}

async function remove(id) {
  showError("");
  try {
    await api(`/v1/videos/${id}`, { method: "DELETE" });
  } catch (err) {
    if (err.status !== 404) { showError(err.message); return; }
  }
  const url = state.blobs.get(id);
  if (url) URL.revokeObjectURL(url);
  state.blobs.delete(id);
  state.cards.get(id)?.remove();
  state.cards.delete(id);
  $("#empty").hidden = state.cards.size > 0;
}

async function refresh() {
  const res = await api("/v1/videos?limit=100&order=desc");
  const list = await res.json();
  const seen = new Set();
  for (const video of list.data) { seen.add(video.id); render(video); }
  for (const id of [...state.cards.keys()]) if (!seen.has(id)) { state.cards.get(id).remove(); state.cards.delete(id); }
  // keep newest first
  const gallery = $("#gallery");
  for (const video of list.data) gallery.append(state.cards.get(video.id));
  $("#empty").hidden = state.cards.size > 0;
  return list.data.some(v => v.status === "queued" || v.status === "in_progress");
}

function schedulePoll(delay) {
  clearTimeout(state.timer);
  state.timer = setTimeout(async () => {
    let busy = false;
    try { busy = await refresh(); } catch (err) { showError(err.message); }
    if (busy) schedulePoll(state.pollMs);
  }, delay);
}

async function start() {
  const key = $("#api-key");
  const fromLink = new URLSearchParams(location.hash.slice(1)).get("key");  // e.g. /#key=ork_...
  if (fromLink) localStorage.setItem(KEY_STORE, fromLink);
  key.value = localStorage.getItem(KEY_STORE) || "";
  if (location.hash) history.replaceState(null, "", location.pathname);  // never leave a key in the address bar
  key.addEventListener("change", () => {
    localStorage.setItem(KEY_STORE, apiKey());
    for (const el of state.cards.values()) el.remove();
    state.cards.clear();
    state.blobs.clear();
    init();
  });
  $("#create").addEventListener("submit", submit);
  $("#prompt").addEventListener("keydown", e => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) $("#create").requestSubmit();
  });
  init();
}

async function init() {
  showError("");
  try {
    await loadModel();
    schedulePoll(0);
  } catch (err) {
    showError(err.status === 401 ? `${err.message} — paste a key from \`openreel keys create\` above.` : err.message);
  }
}

document.addEventListener("DOMContentLoaded", start);
