// NeuroGrid explorer: renders the page for location.pathname from /api/v1/ (no framework, no CDN).
"use strict";

const API = "/api/v1";
const app = document.getElementById("app");
let timer = null; // the current page's refresh loop

const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const short = (a) => (a ? `${a.slice(0, 8)}…${a.slice(-4)}` : "—");
const time = (t) => (t ? new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "—");

// wei (decimal string) -> "12.3456 NGX", exact (BigInt), rounded half up to at most 4 decimals
function ngx(wei, unit = true) {
  if (wei === null || wei === undefined) return "—";
  const step = 10n ** 14n, w = (BigInt(wei) + step / 2n) / step; // in units of 0.0001 NGX
  const whole = w / 10000n, frac = (w % 10000n).toString().padStart(4, "0").replace(/0+$/, "");
  return `${whole}${frac ? "." + frac : ""}${unit ? " NGX" : ""}`;
}
// what a job's public instances after its inputs are: outputs, or the hash of a private output
function outputsLabel(kind) {
  if (kind === "hashed") return "Output hash (Poseidon; the output itself stays private)";
  if (kind === "public") return "Public outputs (field elements)";
  return "Public instances after the inputs (outputs, or an output hash)";
}
const ngxNum = (wei) => Number(BigInt(wei ?? "0") / 10n ** 12n) / 1e6;

async function get(path) {
  const r = await fetch(API + path);
  const body = await r.json();
  if (!r.ok) throw new Error(body.error ? body.error.message : r.statusText);
  return body;
}

const link = {
  job: (id) => `<a href="/jobs/${id}">#${id}</a>`,
  provider: (a) => (a ? `<a class="mono" href="/providers/${a}" title="${esc(a)}">${short(a)}</a>` : "—"),
  consumer: (a) => `<a class="mono" href="/consumers/${a}" title="${esc(a)}">${short(a)}</a>`,
  model: (id, name) => `<a href="/models/${id}">${esc(name || "model " + id)}</a>`,
};
const badge = (s) => `<span class="badge ${esc(s)}">${esc(s)}</span>`;
const card = (k, v, id) => `<div class="card"><div class="k">${esc(k)}</div><div class="v"${id ? ` id="${id}"` : ""}>${v}</div></div>`;
const kv = (rows) => `<dl class="kv">${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join("")}</dl>`;

function table(cols, rows, empty = "Nothing indexed yet.") {
  if (!rows.length) return `<p class="muted">${empty}</p>`;
  const head = cols.map((c) => `<th class="${c.cls || ""}">${esc(c.h)}</th>`).join("");
  const body = rows.map((r) => `<tr>${cols.map((c) => `<td class="${c.cls || ""}">${c.f(r)}</td>`).join("")}</tr>`).join("");
  return `<div class="table-wrap"><table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

const JOB_COLS = [
  { h: "Job", f: (j) => link.job(j.job_id) },
  { h: "Status", f: (j) => badge(j.outcome === "declined" ? "Declined" : j.status) },
  { h: "Model", f: (j) => link.model(j.model_id, j.model_name) },
  { h: "Price", cls: "num", f: (j) => ngx(j.price) },
  { h: "Provider", f: (j) => link.provider(j.provider) },
  { h: "Consumer", cls: "hide-sm", f: (j) => link.consumer(j.consumer) },
  { h: "Posted", cls: "hide-sm", f: (j) => time(j.posted_time) },
  { h: "Latency", cls: "num hide-sm", f: (j) => (j.latency_s === null ? "—" : `${j.latency_s} s`) },
];

// --- charts: inline SVG -----------------------------------------------------------------------
const COLORS = { settled: "#1e8e3e", expired: "#d93025", declined: "#f29900", cancelled: "#9aa0a6", claimed: "#4285f4", open: "#a8c7fa", reopened: "#c58af9" };

function chart(title, series, { stacked = null, value = null, fmt = (v) => v.toLocaleString() } = {}) {
  const W = 320, H = 140, P = 4, n = series.length;
  const totals = series.map((b) => (stacked ? stacked.reduce((s, k) => s + b[k], 0) : value(b) ?? 0));
  const max = Math.max(1e-9, ...totals);
  const bw = Math.max(2, Math.min(40, (W - P - 6) / Math.max(n, 1) - 3));
  let bars = "";
  series.forEach((b, i) => {
    const x = P + 3 + i * ((W - P - 6) / Math.max(n, 1));
    let y = H - 18;
    for (const k of stacked || ["v"]) {
      const v = stacked ? b[k] : value(b) ?? 0, h = (v / max) * (H - 36);
      if (h > 0) bars += `<rect x="${x.toFixed(1)}" y="${(y - h).toFixed(1)}" width="${bw.toFixed(1)}" height="${h.toFixed(1)}" fill="${stacked ? COLORS[k] : "#2a5bd7"}"><title>${esc(time(b.t))}: ${esc(stacked ? k + " " + v : fmt(v))}</title></rect>`;
      y -= h;
    }
  });
  const first = series.length ? time(series[0].t).slice(5, 16) : "", last = series.length ? time(series[n - 1].t).slice(5, 16) : "";
  const legend = stacked ? `<div class="legend">${stacked.map((k) => `<span><i style="background:${COLORS[k]}"></i>${k}</span>`).join("")}</div>` : "";
  return `<div class="chart"><h3>${esc(title)}</h3><svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">
    <line x1="${P}" y1="${H - 18}" x2="${W}" y2="${H - 18}" stroke="#c4cad1"/>
    <text x="${W}" y="10" font-size="10" text-anchor="end" fill="#5b6570">max ${esc(fmt(max === 1e-9 ? 0 : max))}</text>
    <text x="${P}" y="${H - 4}" font-size="9" fill="#5b6570">${esc(first)}</text>
    <text x="${W}" y="${H - 4}" font-size="9" text-anchor="end" fill="#5b6570">${esc(last)}</text>${bars}</svg>${legend}</div>`;
}

// --- pages ------------------------------------------------------------------------------------
async function overview() {
  const [s, jobs] = await Promise.all([get("/stats"), get("/jobs?limit=10")]);
  const t = s.totals, series = s.series;
  app.innerHTML = `<h1>Market overview</h1>
    <div class="cards">${card("Jobs", t.jobs)}${card("Settled", t.settled, "total-settled")}${card("Expired", t.expired)}
      ${card("Declined", t.declined)}${card("NGX volume", ngx(t.volume))}${card("Fees", ngx(t.fees))}${card("Royalties", ngx(t.royalties))}</div>
    <h2>Over time <span class="muted">(per ${s.bucket_s >= 3600 ? s.bucket_s / 3600 + " h" : s.bucket_s / 60 + " min"})</span></h2><div class="charts">
      ${chart("Jobs by outcome", series, { stacked: ["settled", "expired", "declined", "cancelled", "claimed", "open", "reopened"] })}
      ${chart("NGX volume (settled)", series, { value: (b) => ngxNum(b.volume), fmt: (v) => v.toFixed(2) + " NGX" })}
      ${chart("Fees to treasury", series, { value: (b) => ngxNum(b.fees), fmt: (v) => v.toFixed(3) + " NGX" })}
      ${chart("Median post-to-settle latency", series, { value: (b) => b.median_latency_s, fmt: (v) => v.toFixed(1) + " s" })}
      ${chart("Gas per settled job", series, { value: (b) => b.gas_per_job, fmt: (v) => Math.round(v).toLocaleString() })}
      ${chart("Gas per inference (batch jobs share it)", series, { value: (b) => b.gas_per_inference, fmt: (v) => Math.round(v).toLocaleString() })}
      ${chart("Proofs verified on chain", series, { value: (b) => b.proofs_verified })}
    </div>
    <h2>Latest jobs</h2>${table(JOB_COLS, jobs.jobs)}<p><a href="/jobs">All jobs →</a></p>`;
}

async function jobsPage() {
  const q = new URLSearchParams(location.search);
  app.innerHTML = `<h1>Jobs</h1>
    <form class="filters" id="filters">
      <select name="status"><option value="">any status</option>${["Open", "Claimed", "Settled", "Expired", "Cancelled"].map((s) => `<option${q.get("status") === s ? " selected" : ""}>${s}</option>`).join("")}</select>
      <select name="outcome"><option value="">any outcome</option>${["open", "claimed", "settled", "expired", "cancelled", "declined", "reopened"].map((s) => `<option${q.get("outcome") === s ? " selected" : ""}>${s}</option>`).join("")}</select>
      <input name="provider" placeholder="provider 0x…" value="${esc(q.get("provider") || "")}">
      <input name="consumer" placeholder="consumer 0x…" value="${esc(q.get("consumer") || "")}">
      <input name="model" placeholder="model id" size="6" style="min-width:5rem;flex:0" value="${esc(q.get("model") || "")}">
    </form><div id="list"></div>
    <div class="pager"><button id="prev">← newer</button><span id="page" class="muted"></span><button id="next">older →</button></div>`;
  const form = document.getElementById("filters");
  let offset = Number(q.get("offset") || 0);
  const limit = 25;
  const refresh = async () => {
    const params = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) params.set(k, v);
    params.set("limit", limit);
    params.set("offset", offset);
    try {
      const r = await get("/jobs?" + params);
      document.getElementById("list").innerHTML = table(JOB_COLS, r.jobs, "No job matches.");
      document.getElementById("page").textContent = r.total ? `${offset + 1}–${Math.min(offset + limit, r.total)} of ${r.total}` : "";
      document.getElementById("prev").disabled = offset === 0;
      document.getElementById("next").disabled = offset + limit >= r.total;
      params.delete("limit");
      if (!offset) params.delete("offset");
      history.replaceState(null, "", "/jobs" + (params.toString() ? "?" + params : ""));
    } catch (e) {
      document.getElementById("list").innerHTML = `<p class="bad">${esc(e.message)}</p>`;
    }
  };
  form.addEventListener("input", () => { offset = 0; refresh(); });
  form.addEventListener("submit", (e) => e.preventDefault());
  document.getElementById("prev").onclick = () => { offset = Math.max(0, offset - limit); refresh(); };
  document.getElementById("next").onclick = () => { offset += limit; refresh(); };
  await refresh();
  timer = setInterval(refresh, 2000); // new jobs appear without reloading
}

async function jobPage(id) {
  const j = await get(`/jobs/${id}`);
  const s = j.split, sum = ["provider_pay", "royalty", "fee"].reduce((a, k) => a + BigInt(s[k]), 0n);
  const settled = j.status === "Settled";
  const split = settled
    ? `${table([{ h: "Part", f: (r) => r[0] }, { h: "Amount", cls: "num", f: (r) => r[1] }], [
        ["Provider pay", ngx(s.provider_pay)], ["Model royalty", ngx(s.royalty)], ["Protocol fee", ngx(s.fee)],
        ["<b>Sum</b>", `<b id="split-sum">${ngx(sum.toString())}</b>`], ["Price (escrowed)", `<span id="split-price">${ngx(s.price)}</span>`],
        ["Reward (from the rewards pool, on top)", ngx(s.reward)]])}
       <p id="split-check" class="${s.adds_up ? "ok" : "bad"}">${s.adds_up ? "✓ the split adds up to the price" : "✗ the split does not add up to the price"}</p>`
    : `<p class="muted">No payment split: the job is ${esc(j.status)}.</p>`;
  app.innerHTML = `<h1>Job #${j.job_id} <span id="job-status">${badge(j.outcome === "declined" ? "Declined" : j.status)}</span></h1>
    ${kv([["Status on chain", esc(j.status)], ["Model", link.model(j.model_id, j.model_name)], ["Consumer", link.consumer(j.consumer)],
        ["Provider", link.provider(j.provider)], ["Price", ngx(j.price)],
        ...(j.decline ? [["Declined", `<span id="job-decline">${esc(j.decline.reason)}${j.decline.free ? " (free)" : `, provider slashed ${ngx(j.decline.slashed)}`}: refunded ${ngx(j.decline.refund)}${j.decline.burned !== "0" ? `, ${ngx(j.decline.burned)} burned by the input rule` : ""}</span>`]] : []),
        ["Posted", `${time(j.posted_time)} (block ${j.posted_block})`],
        ["Post-to-settle latency", j.latency_s === null ? "—" : `${j.latency_s} s`], ["Gas (all its transactions)", j.gas_used.toLocaleString()],
        ["Inferences", j.inferences], ["Proof size", j.proof_bytes ? `${j.proof_bytes.toLocaleString()} bytes` : "—"],
        ["Verifier", j.verifier ? `<span class="mono">${esc(j.verifier)}</span> (${esc(j.verifier_kind)})` : "—"]])}
    <h2>Price split</h2>${split}
    <h2>Settlement</h2>${settlementBlock(j)}
    <h2>Timeline</h2>${table([
      { h: "Event", f: (e) => esc(e.event) }, { h: "Block", cls: "num", f: (e) => e.block }, { h: "Time", f: (e) => time(e.time) },
      { h: "Transaction", f: (e) => `<span class="mono" title="${esc(e.tx_hash)}">${short(e.tx_hash)}</span>` },
      { h: "Call", cls: "hide-sm", f: (e) => esc(e.method || "—") }, { h: "Gas", cls: "num hide-sm", f: (e) => (e.gas_used ?? 0).toLocaleString() }], j.timeline)}
    <h2>Commitments and outputs</h2>
    ${kv([["Input commitments", j.commitments.map((c) => `<div class="mono">${esc(c)}</div>`).join("") || "—"],
        ...(j.output_kind === "hashed" ? [] : [["Outputs (decoded with the local circuit)", j.output_values ? j.output_values.map((o, k) =>
          `<div class="mono">${j.output_values.length > 1 ? `#${k + 1}: ` : ""}${esc(o.map((v) => v.toFixed(6)).join(", "))}</div>`).join("") : "—"]]),
        [outputsLabel(j.output_kind), j.outputs ? j.outputs.map((c) => `<div class="mono">${esc(c)}</div>`).join("") || "none" : "—"]])}
    <h2>Re-verify</h2>
    <p class="muted">Runs the auditor on the server (<code>ngx-zk verify --job ${j.job_id}</code>): rebuilds the statement from chain data and checks the proof offline.</p>
    <button id="reverify"${settled ? "" : " disabled"}>Re-verify this job</button><div id="verdict"></div>`;
  document.getElementById("reverify").onclick = async (ev) => {
    const out = document.getElementById("verdict");
    ev.target.disabled = true;
    out.innerHTML = `<p class="muted">Verifying…</p>`;
    try {
      const r = await fetch(`${API}/jobs/${j.job_id}/verify`, { method: "POST" });
      const v = await r.json();
      if (!r.ok) throw new Error(v.error.message);
      out.innerHTML = `<p>Verdict: <span id="verdict-result" class="badge ${v.valid ? "valid" : "invalid"}">${v.valid ? "valid" : "invalid"}</span></p>
        <ul class="checks">${v.checks.map((c) => `<li><span class="${c.ok ? "ok" : "bad"}">${c.ok ? "✓" : "✗"}</span> ${esc(c.name)} <span class="muted">${esc(c.detail)}</span></li>`).join("")}</ul>`;
    } catch (e) {
      out.innerHTML = `<p class="bad">${esc(e.message)}</p>`;
    } finally {
      ev.target.disabled = false;
    }
  };
}

function settlementBlock(j) {
  const t = j.settlement;
  if (t.mode === "eager") return `<p id="settlement-mode" class="muted">Eager: the proof is verified on chain when the result is submitted.</p>`;
  const challenges = t.challenges.length ? table([{ h: "Challenger", f: (c) => `<span class="mono" title="${esc(c.challenger)}">${short(c.challenger)}</span>` }, { h: "Bond", cls: "num", f: (c) => ngx(c.bond) },
    { h: "Answer by", f: (c) => time(c.answer_deadline) }, { h: "Outcome", f: (c) => badge(c.outcome) },
    { h: "Transaction", f: (c) => `<span class="mono" title="${esc(c.tx_hash)}">${short(c.tx_hash)}</span>` }], t.challenges) : `<p class="muted">No challenge.</p>`;
  return `${kv([["Mode", `<span id="settlement-mode">optimistic</span> (finalizes after a challenge window)`], ["Batch", t.batch_id ?? "not submitted yet"],
      ["Committed proof hash", t.proof_hash ? `<span class="mono">${esc(t.proof_hash)}</span>` : "—"],
      ["Challenge window until", t.challenge_deadline ? time(t.challenge_deadline) : "—"],
      ["Proof mirrored here", t.proof_mirrored ? `<a id="settlement-proof" href="/api/jobs/${j.job_id}/proof">yes</a>` : "no"]])}
    <h3>Challenges</h3>${challenges}`;
}

function nrsBars(live) {
  if (!live) return `<p class="muted">No live figures (the node is not reachable).</p>`;
  const c = live.components, row = (k, w) => [`${k} (×${w})`, `<div class="bar" title="${c[k.toLowerCase()]}"><span style="width:${c[k.toLowerCase()]}%"></span></div> ${c[k.toLowerCase()]}`];
  return kv([["NRS", `<b id="provider-nrs">${live.nrs}</b> / 100`], row("Performance", 0.4), row("Reliability", 0.3), row("Longevity", 0.2),
    [`Peer (×0.1)`, `<div class="bar"><span style="width:${c.peer}%"></span></div> ${c.peer}`],
    ["Stake", `${ngx(live.staked)} (locked as collateral ${ngx(live.locked)}, unbonding ${ngx(live.unbonding)})`],
    ["Collateral tier", live.collateral_per_10_ngx === null ? "—" : `${ngx(live.collateral_per_10_ngx)} locked per 10 NGX job at this NRS`]]);
}

// one page of a paged list endpoint (the server caps a page at 500 rows), with previous/next buttons
async function pagedList(title, path, key, cols) {
  let offset = Number(new URLSearchParams(location.search).get("offset") || 0);
  const limit = 50;
  app.innerHTML = `<h1>${esc(title)}</h1><div id="list"></div>
    <div class="pager"><button id="prev">← previous</button><span id="page" class="muted"></span><button id="next">next →</button></div>`;
  const show = async () => {
    const r = await get(`${path}?limit=${limit}&offset=${offset}`);
    document.getElementById("list").innerHTML = table(cols, r[key]);
    document.getElementById("page").textContent = r.total ? `${offset + 1}–${Math.min(offset + limit, r.total)} of ${r.total}` : "";
    document.getElementById("prev").disabled = offset === 0;
    document.getElementById("next").disabled = offset + limit >= r.total;
    history.replaceState(null, "", location.pathname + (offset ? `?offset=${offset}` : ""));
  };
  document.getElementById("prev").onclick = () => { offset = Math.max(0, offset - limit); show(); };
  document.getElementById("next").onclick = () => { offset += limit; show(); };
  await show();
}

const providersPage = () => pagedList("Providers", "/providers", "providers", [
  { h: "Provider", f: (p) => link.provider(p.address) }, { h: "NRS", cls: "num", f: (p) => (p.live ? p.live.nrs : "—") },
  { h: "Stake", cls: "num", f: (p) => (p.live ? ngx(p.live.staked) : "—") }, { h: "Settled", cls: "num", f: (p) => p.jobs.settled },
  { h: "Missed", cls: "num", f: (p) => p.jobs.expired }, { h: "Declined", cls: "num", f: (p) => p.jobs.declined },
  { h: "Earnings", cls: "num", f: (p) => ngx(p.earnings) }, { h: "Endpoint", cls: "hide-sm", f: (p) => esc(p.endpoint || "—") }]);

async function providerPage(address) {
  const p = await get(`/providers/${address}`);
  app.innerHTML = `<h1>Provider <span class="mono">${esc(p.address)}</span></h1>
    <div class="cards">${card("Jobs settled", p.jobs.settled, "provider-settled")}${card("Missed (expired)", p.jobs.expired)}${card("Declined", p.jobs.declined)}
      ${card("Earnings (provider pay)", ngx(p.earnings), "provider-earnings")}${card("Rewards", ngx(p.rewards))}
      ${card("To withdraw (earnings " + ngx(p.claimable) + " + rewards " + ngx(p.rewards_owed) + ")", ngx(p.to_withdraw), "provider-to-withdraw")}${card("Slashed", ngx(p.slashed))}</div>
    <h2>Reputation and stake (live)</h2>${nrsBars(p.live)}
    ${kv([["Registered", time(p.registered_at)], ["Endpoint", esc(p.endpoint || "—")]])}
    <h2>Earnings over time</h2><div class="charts">${chart("Provider pay per hour", p.earnings_over_time, { value: (b) => ngxNum(b.earnings), fmt: (v) => v.toFixed(2) + " NGX" })}</div>
    <h2>Recent jobs</h2>${table(JOB_COLS, p.recent_jobs)}`;
}

function modelRows(m) {
  const live = m.live, prov = live ? live.provenance : null;
  return [["Name (local circuit)", esc(m.name || "—")], ["Owner", `<span class="mono">${esc(m.owner)}</span>`],
    ["Verifier", `<span class="mono">${esc(m.verifier)}</span> (${esc(m.kind)})`],
    ["Provenance", prov ? `${prov.code_matches_pin ? "✓" : "✗"} code on chain matches the pinned hash; ${prov.allow_listed ? "✓ allow-listed by governance" : "✗ not allow-listed (no rewards or NRS)"}` : "—"],
    ["Royalty", live ? `${live.royalty_bps / 100}%` : "—"], ["Status", live ? esc(live.status) : "—"],
    ["Circuit (built here)", m.circuit ? `logrows ${m.circuit.logrows}, batch ${m.circuit.batch}` : "—"],
    ["Instances", live ? `${live.input_commitments} input commitment(s) + ${live.outputs} output(s)` : "—"],
    ["Metadata", live ? `<span class="mono">${esc(live.metadata_uri)}</span>` : "—"],
    ["ONNX sha256", `<span class="mono">${esc(m.onnx_hash)}</span>`], ["VK digest", `<span class="mono">${esc(m.vk_digest)}</span>`],
    ["Test SRS (dev only)", m.insecure_test_srs ? "yes: proofs are forgeable off a dev chain" : "no"], ["Registered", time(m.registered_at)],
    ["Jobs", `${m.jobs} (${m.settled} settled)`], ["Royalties earned", `<span id="model-royalties">${ngx(m.royalties)}</span>`]];
}

const modelsPage = () => pagedList("Models", "/models", "models", [
  { h: "Model", f: (m) => link.model(m.model_id, m.name ? `${m.name} (#${m.model_id})` : null) }, { h: "Kind", f: (m) => esc(m.kind) },
  { h: "Royalty", cls: "num", f: (m) => (m.live ? `${m.live.royalty_bps / 100}%` : "—") }, { h: "Jobs", cls: "num", f: (m) => m.jobs },
  { h: "Royalties earned", cls: "num", f: (m) => ngx(m.royalties) }, { h: "Owner", cls: "hide-sm", f: (m) => `<span class="mono">${short(m.owner)}</span>` }]);

async function modelPage(id) {
  const m = await get(`/models/${id}`);
  const jobs = await get(`/jobs?model=${id}&limit=25`);
  app.innerHTML = `<h1>Model #${m.model_id}${m.name ? " " + esc(m.name) : ""}</h1>${kv(modelRows(m))}<h2>Jobs</h2>${table(JOB_COLS, jobs.jobs)}`;
}

const consumersPage = () => pagedList("Consumers", "/consumers", "consumers", [
  { h: "Consumer", f: (c) => link.consumer(c.address) }, { h: "Jobs", cls: "num", f: (c) => c.jobs }, { h: "Settled", cls: "num", f: (c) => c.settled },
  { h: "Expired", cls: "num", f: (c) => c.expired }, { h: "Cancelled", cls: "num", f: (c) => c.cancelled }, { h: "Declined", cls: "num", f: (c) => c.declined },
  { h: "Spent", cls: "num", f: (c) => ngx(c.spent) }]);

async function consumerPage(address) {
  const c = await get(`/consumers/${address}`);
  app.innerHTML = `<h1>Consumer <span class="mono">${esc(c.address)}</span></h1>
    <div class="cards">${card("Jobs", c.jobs)}${card("Settled", c.settled)}${card("Expired", c.expired)}${card("Cancelled", c.cancelled)}
    ${card("Declined by provider", c.declined)}${card("Spent", ngx(c.spent))}</div>
    <h2>Record (live, from the Reputation contract)</h2>${c.live ? kv([["Consumer score", `${c.live.score} / 100`],
      ...Object.entries(c.live.facts).map(([k, v]) => [k.replaceAll("_", " "), String(v)])]) : `<p class="muted">No live figures.</p>`}
    <h2>Jobs</h2>${table(JOB_COLS, c.recent_jobs)}`;
}

// actors flagged by anomaly detection, each with the evidence that flagged it (evidence, not proof)
async function anomaliesPage() {
  const r = await get("/anomalies");
  const weighed = Object.entries(r.weighed).map(([role, n]) => `${n} ${role}s`).join(", ") || "no actors";
  const who = (f) => (f.role === "provider" ? link.provider(f.address) : link.consumer(f.address));
  app.innerHTML = `<h1>Anomalies</h1>
    <p class="muted">${r.flags.length} flagged among ${esc(weighed)}. A flag is evidence, not proof: read the lines below before acting on it.</p>
    ${table([
      { h: "Actor", f: who }, { h: "Role", f: (f) => esc(f.role) }, { h: "Kinds", f: (f) => f.kinds.map(badge).join(" ") },
      { h: "Score", cls: "num", f: (f) => f.score.toFixed(2) },
      { h: "Evidence", f: (f) => `<ul class="evidence">${f.evidence.map((e) => `<li>${esc(e)}</li>`).join("")}</ul>` },
    ], r.flags, "No actor is flagged.")}`;
}

async function syncLine() {
  try {
    const s = await get("/status");
    document.getElementById("sync").textContent = `chain ${s.chain_id} · block ${s.indexed_block}` + (s.lag_blocks ? ` (${s.lag_blocks} behind)` : "");
  } catch (e) {
    document.getElementById("sync").textContent = "API unreachable";
  }
}

const ROUTES = [
  [/^\/$/, overview], [/^\/jobs$/, jobsPage], [/^\/jobs\/(\d+)$/, jobPage], [/^\/providers$/, providersPage],
  [/^\/providers\/(0x[0-9a-fA-F]{40})$/, providerPage], [/^\/models$/, modelsPage], [/^\/models\/(\d+)$/, modelPage],
  [/^\/consumers$/, consumersPage], [/^\/consumers\/(0x[0-9a-fA-F]{40})$/, consumerPage], [/^\/anomalies$/, anomaliesPage],
];

async function render() {
  clearInterval(timer);
  for (const [re, page] of ROUTES) {
    const m = location.pathname.match(re);
    if (m) {
      try {
        await page(...m.slice(1));
        document.title = (document.querySelector("h1")?.textContent || "") + " · NeuroGrid explorer";
      } catch (e) {
        app.innerHTML = `<h1>Not available</h1><p class="bad">${esc(e.message)}</p>`;
      }
      app.dataset.ready = "1";
      return;
    }
  }
  app.innerHTML = `<h1>Not found</h1>`;
}

syncLine();
setInterval(syncLine, 5000);
render();
