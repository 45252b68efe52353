/** The dashboard: one self-contained HTML page (no build step, no CDN) that polls the JSON API. */
export const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>dataplane shop — live</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1d2330; background: #f6f7f9; }
  body { margin: 0; padding: 20px 28px; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  .sub { color: #667; margin-bottom: 18px; font-size: 13px; }
  .grid { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
  .card { background: #fff; border-radius: 8px; padding: 14px 16px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
  .card h2 { font-size: 14px; margin: 0 0 10px; color: #334; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; }
  td, th { text-align: left; padding: 4px 6px; border-bottom: 1px solid #eee; }
  th { color: #667; font-weight: 600; }
  .bar { height: 10px; background: #4f7cff; border-radius: 3px; }
  svg { width: 100%; height: 160px; }
  .legend span { display: inline-block; margin-right: 12px; font-size: 12px; }
  .legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
  form { display: flex; gap: 8px; }
  input[type=text] { flex: 1; padding: 7px 9px; border: 1px solid #ccd; border-radius: 6px; font-size: 14px; }
  button { padding: 7px 14px; border: 0; background: #1d2330; color: #fff; border-radius: 6px; cursor: pointer; }
  #answer p { margin: 8px 0; font-size: 14px; line-height: 1.45; }
  #answer sup { color: #4f7cff; }
  #sources { font-size: 12px; color: #556; padding-left: 18px; }
  .wide { grid-column: 1 / span 2; }
</style>
</head>
<body>
<h1>dataplane shop</h1>
<div class="sub" id="status">connecting…</div>
<div class="grid">
  <div class="card"><h2>Traffic share per customer replica</h2><table id="share"><thead><tr><th>replica</th><th>zone</th><th>requests</th><th>share</th><th style="width:40%"></th></tr></thead><tbody></tbody></table></div>
  <div class="card"><h2>Outbox and consumer lag</h2><table id="lag"><thead><tr><th>what</th><th>value</th></tr></thead><tbody></tbody></table></div>
  <div class="card wide"><h2>p99 latency per replica over time (ms, from the TSDB)</h2><div class="legend" id="legend"></div><svg id="chart" viewBox="0 0 800 160" preserveAspectRatio="none"></svg></div>
  <div class="card wide"><h2>Operator assistant</h2>
    <form id="ask"><input type="text" id="q" placeholder="Ask about the runbooks and docs, e.g. how do I recover a lost replication slot?"><button>Ask</button></form>
    <div id="answer"></div><ol id="sources"></ol>
  </div>
</div>
<script>
const colors = ['#4f7cff', '#f28b30', '#2bb673', '#c2417a', '#7a5cf0'];
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
async function refresh() {
  try {
    const [traffic, lag] = await Promise.all([fetch('/api/traffic').then((r) => r.json()), fetch('/api/lag').then((r) => r.json())]);
    document.getElementById('status').textContent = 'live · ' + traffic.totalRequests + ' requests · updated ' + new Date().toLocaleTimeString();
    const body = document.querySelector('#share tbody');
    body.innerHTML = traffic.replicas.map((r) => '<tr data-replica="' + esc(r.id) + '"><td>' + esc(r.id) + '</td><td>' + esc(r.zone) + '</td><td class="count">' + r.requests + '</td><td>' + (100 * r.share).toFixed(1) + '%</td><td><div class="bar" style="width:' + (100 * r.share).toFixed(1) + '%"></div></td></tr>').join('');
    document.querySelector('#lag tbody').innerHTML = lag.rows.map((r) => '<tr><td>' + esc(r.name) + '</td><td class="lag-value">' + esc(r.value) + '</td></tr>').join('');
    drawChart(traffic.series);
  } catch (err) {
    document.getElementById('status').textContent = 'disconnected: ' + err;
  }
}
function drawChart(series) {
  const svg = document.getElementById('chart');
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) { svg.innerHTML = ''; return; }
  const t0 = Math.min(...all.map((p) => p[0])), t1 = Math.max(...all.map((p) => p[0])) || t0 + 1;
  const vmax = Math.max(1, ...all.map((p) => p[1]));
  const x = (t) => ((t - t0) / Math.max(1, t1 - t0)) * 790 + 5, y = (v) => 155 - (v / vmax) * 145;
  svg.innerHTML = series.map((s, i) => '<polyline fill="none" stroke-width="2" stroke="' + colors[i % colors.length] + '" points="' + s.points.map((p) => x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1)).join(' ') + '"/>').join('');
  document.getElementById('legend').innerHTML = series.map((s, i) => '<span><i style="background:' + colors[i % colors.length] + '"></i>' + esc(s.id) + '</span>').join('') + '<span>max ' + vmax.toFixed(1) + ' ms</span>';
}
document.getElementById('ask').addEventListener('submit', async (e) => {
  e.preventDefault();
  const q = document.getElementById('q').value.trim();
  if (!q) return;
  document.getElementById('answer').textContent = 'thinking…';
  const res = await fetch('/api/ask?q=' + encodeURIComponent(q)).then((r) => r.json());
  document.getElementById('answer').innerHTML = res.sentences.map((s) => '<p class="sentence">' + esc(s.text) + ' ' + s.citations.map((c) => '<sup>[' + c + ']</sup>').join('') + '</p>').join('') || '<p>No supported answer in the docs.</p>';
  document.getElementById('sources').innerHTML = res.sources.map((s) => '<li class="source">' + esc(s.title) + '</li>').join('');
});
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>`;
