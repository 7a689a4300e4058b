import { CATALOG_TRACK_URI, TRACK_LINK } from '../protocol/index.js';
import type { SampleTrack } from './sim-panel.js';

/** The simulator panel beside the device: sample tracks to share (null: no panel). */
export interface MirrorPanel {
  readonly samples: readonly SampleTrack[];
}

/**
 * The browser mirror of the simulated gadget: the live screen plus the four buttons.
 * Buttons send `down`/`up` so holding one makes a long press exactly as on the device;
 * right-click (or shift-click) sends a long press at once. The keyboard works too:
 * ←/→ prev/next, space/enter primary, s secondary, capital S / M for long presses.
 * With a panel, a simulator column beside (wide) or under (narrow) the device shares a
 * track or sends a message through the gadget (see device/sim-panel.ts).
 */
export function mirrorPage(title: string, width: number, height: number, panel: MirrorPanel | null = null): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · LEELOO mirror</title>
<style>
  :root { color-scheme: dark; }
  * { box-sizing: border-box; }
  body { margin: 0; min-height: 100vh; padding: 24px; display: flex; flex-wrap: wrap; align-items: center; justify-content: center; gap: 32px;
    background: #07080b; font-family: system-ui, sans-serif; color: #c9ccd6; }
  .gadget { max-width: 100%; background: linear-gradient(160deg, #2a2d36, #15171c); padding: 28px 28px 22px; border-radius: 28px; box-shadow: 0 30px 80px #000a, inset 0 1px 0 #ffffff14; }
  .bezel { background: #000; padding: 10px; border-radius: 10px; }
  #screen { display: block; width: ${width}px; max-width: 100%; height: auto; aspect-ratio: ${width} / ${height}; image-rendering: pixelated; background: #101218; transition: filter .3s; }
  #screen.dark { filter: brightness(.08); }
  .buttons { display: flex; justify-content: center; gap: 18px; margin-top: 20px; }
  .buttons button { width: 64px; height: 64px; border-radius: 50%; border: 0; cursor: pointer; font-size: 22px; color: #e8e9ee;
    background: radial-gradient(circle at 35% 30%, #4a4f5c, #23262e); box-shadow: 0 4px 0 #0b0c10, 0 6px 14px #0008; }
  .buttons button:active, .buttons button.held { transform: translateY(3px); box-shadow: 0 1px 0 #0b0c10; }
  .buttons button.primary { background: radial-gradient(circle at 35% 30%, #ff7aa2, #c2345f); }
  .meta { display: flex; justify-content: space-between; margin-top: 14px; font-size: 12px; color: #7d8290; }
  #link.live { color: #2ecc71; }
  .panel { width: 360px; max-width: 100%; padding: 22px; border-radius: 24px; background: linear-gradient(160deg, #1d2027, #121419);
    box-shadow: 0 20px 60px #0008, inset 0 1px 0 #ffffff10; font-size: 14px; }
  .panel h2 { margin: 0; font-size: 15px; color: #e8e9ee; }
  .panel .hint { margin: 4px 0 0; font-size: 12px; color: #7d8290; line-height: 1.4; }
  .panel h3 { margin: 20px 0 10px; font-size: 11px; font-weight: 600; letter-spacing: .08em; text-transform: uppercase; color: #7d8290; }
  .samples { list-style: none; margin: 0; padding: 0; display: grid; gap: 6px; }
  .sample { width: 100%; display: flex; align-items: center; gap: 10px; padding: 8px 10px; border: 0; border-radius: 12px; cursor: pointer;
    text-align: left; color: inherit; font: inherit; background: #23262e; }
  .sample:hover, .sample:focus-visible { background: #2c303a; outline: none; }
  .sample span { flex: 1; min-width: 0; }
  .sample b, .sample small { display: block; overflow: hidden; white-space: nowrap; text-overflow: ellipsis; }
  .sample b { font-weight: 600; color: #e8e9ee; }
  .sample small { font-size: 12px; color: #7d8290; }
  .sample i { font-style: normal; font-size: 12px; color: #ff7aa2; }
  .panel form { display: grid; gap: 8px; }
  .panel form.paste { margin-top: 12px; }
  .panel .pair { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }
  .panel input { width: 100%; padding: 9px 11px; border: 1px solid #2e323c; border-radius: 10px; background: #0c0d11; color: #e8e9ee; font: inherit; }
  .panel input:focus { outline: none; border-color: #c2345f; }
  .panel input[aria-invalid="true"] { border-color: #ff6b7f; }
  .panel .send { justify-self: end; padding: 8px 18px; border: 0; border-radius: 999px; cursor: pointer; color: #fff; font: inherit; font-weight: 600;
    background: linear-gradient(160deg, #ff7aa2, #c2345f); box-shadow: 0 3px 0 #0b0c10; }
  .panel .send:active { transform: translateY(2px); box-shadow: 0 1px 0 #0b0c10; }
  .status { min-height: 2.8em; margin: 8px 0 0; font-size: 12px; line-height: 1.4; color: #7d8290; }
  .status[data-state="ok"] { color: #2ecc71; }
  .status[data-state="error"] { color: #ff6b7f; }
  @media (max-width: 999px) { body { flex-direction: column; } .panel { width: ${width + 76}px; } }
</style>
</head>
<body>
<div class="gadget">
  <div class="bezel"><img id="screen" alt="LEELOO screen" width="${width}" height="${height}"></div>
  <div class="buttons">
    <button data-button="prev" title="prev (←)">◀</button>
    <button data-button="primary" class="primary" title="primary (space) — hold or right-click for the menu">●</button>
    <button data-button="secondary" title="secondary (s)">◆</button>
    <button data-button="next" title="next (→)">▶</button>
  </div>
  <div class="meta"><span>${escapeHtml(title)}</span><span id="link">connecting…</span></div>
</div>
${panel ? panelHtml(panel) : ''}<script>
  const img = document.getElementById('screen');
  const link = document.getElementById('link');
  let socket = null;
  let frames = 0;
  function connect() {
    socket = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/mirror');
    socket.binaryType = 'blob';
    socket.onopen = () => { link.textContent = 'live'; link.className = 'live'; };
    socket.onclose = () => { link.textContent = 'reconnecting…'; link.className = ''; simulator.lost(); setTimeout(connect, 1000); };
    socket.onmessage = (event) => {
      if (typeof event.data === 'string') {
        const message = JSON.parse(event.data);
        if (message.type === 'backlight') img.classList.toggle('dark', !message.on);
        // The words on screen as the image's text alternative, so a screen reader can follow the gadget.
        if (message.type === 'screen_text') img.alt = message.text.length ? message.text.join(' · ') : 'LEELOO screen';
        if (message.type === 'done' || message.type === 'error') simulator.answer(message);
        return;
      }
      const url = URL.createObjectURL(event.data);
      img.onload = () => URL.revokeObjectURL(url);
      img.src = url;
      frames += 1;
      document.body.dataset.frames = String(frames);
    };
  }
  function send(button, action) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'button', button, action }));
  }
  for (const el of document.querySelectorAll('button[data-button]')) {
    const name = el.dataset.button;
    el.addEventListener('pointerdown', (event) => {
      if (event.button !== 0) return;
      if (event.shiftKey) { send(name, 'long_press'); return; }
      el.setPointerCapture(event.pointerId);
      el.classList.add('held');
      send(name, 'down');
    });
    el.addEventListener('pointerup', (event) => {
      if (!el.classList.contains('held')) return;
      el.classList.remove('held');
      send(name, 'up');
    });
    el.addEventListener('contextmenu', (event) => { event.preventDefault(); send(name, 'long_press'); });
  }
  const keys = { ArrowLeft: ['prev', 'press'], ArrowRight: ['next', 'press'], ' ': ['primary', 'press'], Enter: ['primary', 'press'],
    s: ['secondary', 'press'], S: ['secondary', 'long_press'], M: ['primary', 'long_press'], m: ['primary', 'long_press'] };
  document.addEventListener('keydown', (event) => {
    // Typing in the simulator panel is text, not button presses.
    if (event.target instanceof Element && event.target.closest('.panel')) return;
    const key = keys[event.key];
    if (!key || event.repeat) return;
    event.preventDefault();
    send(key[0], key[1]);
  });
  const simulator = simulatorPanel();
  ${PANEL_SCRIPT}
  connect();
</script>
</body>
</html>
`;
}

function panelHtml(panel: MirrorPanel): string {
  const samples = panel.samples
    .map(
      (
        s,
      ) => `      <li><button type="button" class="sample" data-uri="${escapeHtml(s.spotify_uri)}" data-artist="${escapeHtml(s.artist)}" data-track="${escapeHtml(s.track)}" data-album="${escapeHtml(s.album)}">
        <span><b>${escapeHtml(s.track)}</b><small>${escapeHtml(s.artist)} · ${escapeHtml(s.album)}</small></span><i>Share</i></button></li>`,
    )
    .join('\n');
  return `<aside class="panel" aria-label="Simulator">
  <h2>Simulator</h2>
  <p class="hint">Stands in for Spotify on this simulated gadget. A share goes out exactly as the share button sends it: through the gadget's outbox, even while it is offline.</p>
  <section aria-labelledby="share-heading">
    <h3 id="share-heading">Share a track</h3>
    <ul class="samples">
${samples}
    </ul>
    <form id="share-form" class="paste" novalidate>
      <input id="share-link" name="link" maxlength="500" autocomplete="off" spellcheck="false" aria-label="Spotify track link" placeholder="Paste a Spotify track link">
      <div class="pair">
        <input id="share-artist" name="artist" maxlength="200" autocomplete="off" aria-label="Artist" placeholder="Artist">
        <input id="share-title" name="title" maxlength="200" autocomplete="off" aria-label="Title" placeholder="Title">
      </div>
      <button type="submit" class="send">Share link</button>
    </form>
    <p id="share-status" class="status" role="status"></p>
  </section>
  <section aria-labelledby="text-heading">
    <h3 id="text-heading">Send a message</h3>
    <form id="text-form" novalidate>
      <input id="text-input" name="text" maxlength="500" autocomplete="off" aria-label="Message" placeholder="Say something to the crew">
      <button type="submit" class="send">Send</button>
    </form>
    <p id="text-status" class="status" role="status"></p>
  </section>
</aside>
`;
}

/**
 * The panel's browser side: checks each form before sending (the gadget checks again)
 * and shows the gadget's answer under it. Without a panel on the page it does nothing.
 */
const PANEL_SCRIPT = `function simulatorPanel() {
    const panel = document.querySelector('.panel');
    const pending = new Map();
    let requests = 0;
    const inert = { answer() {}, lost() {} };
    if (!panel) return inert;
    // The same links protocol/queue.ts spotifyTrackUriFrom accepts, from the same rules.
    const TRACK_LINKS = ${JSON.stringify([CATALOG_TRACK_URI.source, TRACK_LINK.source])}.map((source) => new RegExp(source));
    const TRACK_LINK = { test: (text) => TRACK_LINKS.some((rule) => rule.test(text)) };
    const shareStatus = document.getElementById('share-status');
    const textStatus = document.getElementById('text-status');
    const shareForm = document.getElementById('share-form');
    const textForm = document.getElementById('text-form');
    const fields = { link: document.getElementById('share-link'), artist: document.getElementById('share-artist'), title: document.getElementById('share-title'), text: document.getElementById('text-input') };
    function show(status, state, text) { status.dataset.state = state; status.textContent = text; }
    function flag(field, bad) { field.setAttribute('aria-invalid', bad ? 'true' : 'false'); }
    function request(status, message, onDone) {
      if (!socket || socket.readyState !== WebSocket.OPEN) return show(status, 'error', 'The page is not connected to the gadget; wait for “live” and try again.');
      const id = 'r' + (++requests);
      pending.set(id, { status, onDone });
      show(status, 'pending', 'Sending…');
      socket.send(JSON.stringify({ ...message, request_id: id }));
    }
    function shareTrack(track, onDone) { request(shareStatus, { type: 'share_track', track }, onDone); }
    for (const el of panel.querySelectorAll('.sample')) {
      el.addEventListener('click', () => shareTrack({ link: el.dataset.uri, artist: el.dataset.artist, track: el.dataset.track, album: el.dataset.album }));
    }
    shareForm.addEventListener('submit', (event) => {
      event.preventDefault();
      const link = fields.link.value.trim(), artist = fields.artist.value.trim(), title = fields.title.value.trim();
      flag(fields.link, !TRACK_LINK.test(link)); flag(fields.artist, !artist); flag(fields.title, !title);
      if (!TRACK_LINK.test(link)) return show(shareStatus, 'error', 'That is not a Spotify track link. Paste one like https://open.spotify.com/track/… or spotify:track:…');
      if (!artist || !title) return show(shareStatus, 'error', 'Give the artist and the title: the crew sees them on their screens.');
      shareTrack({ link, artist, track: title, album: '' }, () => shareForm.reset());
    });
    textForm.addEventListener('submit', (event) => {
      event.preventDefault();
      const text = fields.text.value.trim();
      flag(fields.text, !text);
      if (!text) return show(textStatus, 'error', 'Type a message first.');
      request(textStatus, { type: 'send_text', text }, () => textForm.reset());
    });
    return {
      answer(message) {
        const waiting = pending.get(message.request_id);
        if (!waiting) return;
        pending.delete(message.request_id);
        if (message.type === 'error') return show(waiting.status, 'error', message.message);
        const what = message.action === 'send_text' ? 'Your message' : message.summary;
        show(waiting.status, 'ok', message.queued ? what + ' is saved; it goes out when the gadget is back online.' : what + ' went to your crew ✓');
        if (waiting.onDone) waiting.onDone();
      },
      lost() {
        for (const waiting of pending.values()) show(waiting.status, 'error', 'The page lost the gadget before it answered; check the other gadget before sending again.');
        pending.clear();
      },
    };
  }`;

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
