/**
 * The browser mirror of the simulated gadget: the live screen plus the four buttons.
 * Buttons send `down`/`up` so holding one makes a long press exactly as on the device;
 * right-click (or shift-click) sends a long press at once. The keyboard works too:
 * ←/→ prev/next, space/enter primary, s secondary, capital S / M for long presses.
 */
export function mirrorPage(title: string, width: number, height: number): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · LEELOO mirror</title>
<style>
  :root { color-scheme: dark; }
  body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: #07080b; font-family: system-ui, sans-serif; color: #c9ccd6; }
  .gadget { background: linear-gradient(160deg, #2a2d36, #15171c); padding: 28px 28px 22px; border-radius: 28px; box-shadow: 0 30px 80px #000a, inset 0 1px 0 #ffffff14; }
  .bezel { background: #000; padding: 10px; border-radius: 10px; }
  #screen { display: block; width: ${width}px; height: ${height}px; image-rendering: pixelated; background: #101218; transition: filter .3s; }
  #screen.dark { filter: brightness(.08); }
  .buttons { display: flex; justify-content: center; gap: 18px; margin-top: 20px; }
  button { width: 64px; height: 64px; border-radius: 50%; border: 0; cursor: pointer; font-size: 22px; color: #e8e9ee;
    background: radial-gradient(circle at 35% 30%, #4a4f5c, #23262e); box-shadow: 0 4px 0 #0b0c10, 0 6px 14px #0008; }
  button:active, button.held { transform: translateY(3px); box-shadow: 0 1px 0 #0b0c10; }
  button.primary { background: radial-gradient(circle at 35% 30%, #ff7aa2, #c2345f); }
  .meta { display: flex; justify-content: space-between; margin-top: 14px; font-size: 12px; color: #7d8290; }
  #link.live { color: #2ecc71; }
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
<script>
  const img = document.getElementById('screen');
  const link = document.getElementById('link');
  let socket = null;
  let frames = 0;
  function connect() {
    socket = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/mirror');
    socket.binaryType = 'blob';
    socket.onopen = () => { link.textContent = 'live'; link.className = 'live'; };
    socket.onclose = () => { link.textContent = 'reconnecting…'; link.className = ''; setTimeout(connect, 1000); };
    socket.onmessage = (event) => {
      if (typeof event.data === 'string') {
        const message = JSON.parse(event.data);
        if (message.type === 'backlight') img.classList.toggle('dark', !message.on);
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
    const key = keys[event.key];
    if (!key || event.repeat) return;
    event.preventDefault();
    send(key[0], key[1]);
  });
  connect();
</script>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
