/** The crew page's styles: mobile first (390 px wide phones), dark, no web fonts (the page loads nothing else). */
export const CREW_PAGE_STYLE = `
:root { --bg:#12101c; --card:#1d1a2b; --line:#2c2840; --text:#f1eefa; --dim:#9d97b5; --accent:#ff5c8a; --accent2:#7c5cff; --ok:#3ddc97; }
* { box-sizing:border-box; }
[hidden] { display:none !important; }
html { -webkit-text-size-adjust:100%; }
body { margin:0; background:radial-gradient(120% 60% at 50% 0%, #2a1f4a 0%, var(--bg) 60%); color:var(--text);
  font:16px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; min-height:100vh; }
main { padding:0 12px 32px; max-width:640px; margin:0 auto; }
.top { display:flex; align-items:center; justify-content:space-between; gap:12px; padding:18px 16px 10px; max-width:640px; margin:0 auto; }
.eyebrow { font-size:12px; letter-spacing:.12em; text-transform:uppercase; color:var(--accent); font-weight:700; }
h1 { font-size:24px; margin:2px 0; }
h2 { font-size:15px; margin:0 0 10px; display:flex; align-items:center; gap:8px; color:var(--dim); text-transform:uppercase; letter-spacing:.06em; }
h2 select { margin-left:auto; }
.who { color:var(--dim); font-size:13px; }
.live::before { content:""; display:inline-block; width:8px; height:8px; border-radius:50%; background:var(--ok); margin-right:4px; }
.live.off::before { background:#777; }
.card { background:var(--card); border:1px solid var(--line); border-radius:18px; padding:14px; margin:12px 0; box-shadow:0 8px 24px #0006; }
.empty { color:var(--dim); font-size:14px; padding:6px 0; list-style:none; }
button, select { font:inherit; color:var(--text); background:#2a2640; border:1px solid var(--line); border-radius:12px; padding:8px 12px; min-height:40px; }
button:active { transform:scale(.96); }
button.primary { background:linear-gradient(135deg, var(--accent), var(--accent2)); border:0; font-weight:700; width:100%; min-height:46px; }
.icon { width:1.15em; height:1.15em; vertical-align:-0.2em; flex:none; }
.airhorn { width:54px; height:54px; border-radius:50%; background:linear-gradient(135deg,#ffb347,var(--accent)); border:0; display:grid; place-items:center; padding:0; }
.airhorn .icon { width:28px; height:28px; }
.now { display:grid; grid-template-columns:96px 1fr; gap:14px; align-items:center; }
.now .art { width:96px; height:96px; border-radius:12px; background:linear-gradient(135deg,var(--accent2),var(--accent)); object-fit:cover; display:grid; place-items:center; }
.now .art .icon { width:40px; height:40px; }
.now .title { font-size:19px; font-weight:700; line-height:1.2; }
.now .artist { color:var(--dim); }
.now .by { font-size:12px; color:var(--dim); margin-top:4px; }
.now .clock { grid-column:1 / -1; }
.bar-track { height:6px; background:#332e4a; border-radius:3px; overflow:hidden; }
.bar-fill { height:100%; background:linear-gradient(90deg,var(--accent2),var(--accent)); width:0; }
.times { display:flex; justify-content:space-between; font-size:12px; color:var(--dim); font-variant-numeric:tabular-nums; margin-top:4px; }
.paused-tag { color:#ffb347; font-weight:700; }
.tag { font-size:11px; padding:1px 6px; border-radius:8px; background:#2f2a47; color:var(--dim); }
.tag.tb { background:#3a2a10; color:#ffb347; }
.queue { list-style:none; margin:0; padding:0; }
.queue li { display:grid; grid-template-columns:1fr auto; gap:8px; align-items:center; padding:10px 0; border-top:1px solid var(--line); }
.queue li:first-child { border-top:0; }
.queue .t { font-weight:600; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
.queue .a { color:var(--dim); font-size:13px; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
.queue .meta { font-size:12px; color:var(--dim); display:flex; gap:6px; align-items:center; margin-top:2px; }
.votes { display:flex; align-items:center; gap:4px; }
.votes button { min-width:40px; padding:6px 8px; }
.votes button.on { background:var(--accent2); border-color:var(--accent2); }
.votes button.jam.on { background:#ff7a1a; border-color:#ff7a1a; }
.recent .icon { margin-right:2px; color:var(--accent); }
.votes button.jam:not(.on) .icon, .by .icon-jam, .recent .icon-jam { color:#ff9f1c; }
.recent .icon-love { color:#ff3b6b; }
.owner button { display:inline-flex; align-items:center; gap:6px; }
.votes .score { min-width:26px; text-align:center; font-weight:700; font-variant-numeric:tabular-nums; }
.add { display:grid; gap:8px; margin-top:12px; border-top:1px solid var(--line); padding-top:12px; }
.row { display:grid; grid-template-columns:1fr 1fr; gap:8px; }
.field { display:grid; gap:4px; font-size:12px; color:var(--dim); }
input[type=text], input:not([type]), input[inputmode] { font:inherit; color:var(--text); background:#14121f; border:1px solid var(--line); border-radius:10px; padding:10px; width:100%; }
.form-error { color:#ff8080; font-size:13px; margin:0; min-height:1em; }
.owner { display:flex; flex-wrap:wrap; gap:8px; margin-top:12px; }
.toggle { display:flex; align-items:center; gap:6px; font-size:14px; }
.recent { list-style:none; padding:0; margin:0; }
#recap-image { width:100%; border-radius:12px; margin:10px 0 6px; display:block; }
.recap-list h3 { font-size:13px; color:var(--dim); margin:12px 0 4px; }
.recap-list ol { margin:0; padding-left:20px; font-size:14px; }
.say-actions { display:flex; gap:6px; margin-top:4px; }
.say-actions button.on { border-color:var(--accent); color:var(--accent); }
#skip-vote { margin-top:10px; grid-column:1 / -1; justify-self:start; }
#skip-vote.on { border-color:var(--accent); color:var(--accent); }
.results { list-style:none; padding:0; margin:0 0 12px; }
.results li { display:flex; align-items:center; gap:10px; padding:6px 0; border-top:1px solid var(--line); }
.results li:first-child { border-top:0; }
.results .thumb { width:44px; height:44px; border-radius:6px; object-fit:cover; flex:none; background:var(--line); }
.results .what { flex:1; min-width:0; }
.results .title, .results .artist { white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
.results .artist { color:var(--dim); font-size:13px; }
#devices li { display:flex; align-items:center; gap:8px; }
#devices li button { margin-left:auto; }
.recent li { padding:8px 0; border-top:1px solid var(--line); font-size:14px; }
.recent li:first-child { border-top:0; }
.recent .when { color:var(--dim); font-size:12px; }
.hint { color:var(--dim); font-size:13px; }
.progress { height:8px; background:#332e4a; border-radius:4px; overflow:hidden; }
.progress .bar { height:100%; width:0; background:var(--ok); transition:width .2s; }
.import { display:grid; gap:10px; }
svg text { fill:var(--dim); font-size:11px; font-family:inherit; }
.horn { position:fixed; inset:0; display:grid; place-items:center; align-content:center; background:#000a; z-index:10; text-align:center; }
.horn div { color:#ffb347; animation:honk .25s ease-in-out 6 alternate; }
.horn .icon { width:120px; height:120px; }
.horn p { font-size:22px; font-weight:800; }
@keyframes honk { from { transform:scale(1) rotate(-12deg); } to { transform:scale(1.35) rotate(12deg); } }
.toast { position:fixed; left:12px; right:12px; bottom:16px; background:#3a1f2a; border:1px solid #ff5c8a; border-radius:12px; padding:12px; z-index:11; }
.error-page { display:grid; place-items:center; min-height:100vh; text-align:center; }
.error-page .big .icon { width:54px; height:54px; color:var(--accent); }
.error-page .code { color:var(--dim); font-size:12px; }
.steps { padding-left:20px; color:var(--dim); font-size:14px; display:grid; gap:8px; }
.copy { display:flex; gap:6px; margin-top:6px; }
.copy input { flex:1; min-width:0; font-size:13px; }
.copy textarea { flex:1; min-width:0; font:12px/1.35 ui-monospace, monospace; color:var(--text); background:#14121f; border:1px solid var(--line); border-radius:10px; padding:8px; resize:vertical; }
`;
