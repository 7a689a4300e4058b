import type { ErrorCode } from '../../protocol/errors.js';
import { icon } from './crew-page-icons.js';
import { CREW_API_SCRIPT } from './crew-page-api.js';
import { CREW_PAGE_SCRIPT } from './crew-page-script.js';
import { CREW_PAGE_STYLE } from './crew-page-style.js';
import { MCP_TOKENS_SCRIPT, mcpTokensSectionHtml } from './crew-mcp-tokens.js';
import { SPOTIFY_APP_SCRIPT, spotifyAppSectionHtml } from './crew-spotify-app.js';
import { RECAP_SCRIPT, recapSectionHtml } from './crew-recap.js';
import { SAY_SCRIPT, saySectionHtml } from './crew-say.js';
import { MEMBERS_SCRIPT, membersSectionHtml } from './crew-members.js';
import { SPOTIFY_SEARCH_SCRIPT, spotifyDevicesSectionHtml, spotifySearchHtml } from './crew-spotify-search.js';
import type { CrewViewer } from './member-links.js';

/** The crew page's HTML shell; the script fills it from /crew/api/state and keeps it live. */

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function pageShell(title: string, body: string, script = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="theme-color" content="#12101c">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>${CREW_PAGE_STYLE}</style>
</head>
<body>
${body}
${script ? `<script>${script}</script>` : ''}
</body>
</html>`;
}

export function crewPageHtml(viewer: CrewViewer): string {
  const body = `
<header class="top">
  <div>
    <div class="eyebrow">LEELOO crew</div>
    <h1 id="crew-name">${escapeHtml(viewer.crewName || 'Your crew')}</h1>
    <div class="who">you are <b>${escapeHtml(viewer.displayName)}</b>${viewer.isOwner ? ' · owner' : ''} · <span id="live" class="live off">connecting…</span></div>
  </div>
  <button id="airhorn" class="airhorn" type="button" aria-label="Sound the airhorn">${icon('airhorn')}</button>
</header>
<main>
  <section class="card now" id="now" aria-live="polite">
    <div class="empty">Nothing is playing. Add a track below.</div>
  </section>
  <section class="card">
    <h2>Up next <span id="queue-count" class="count"></span></h2>
    <ol id="queue" class="queue"></ol>
    ${spotifySearchHtml()}
    <form id="add" class="add" autocomplete="off">
      <label class="field"><span>Spotify link or URI</span>
        <input name="link" id="add-link" inputmode="url" placeholder="https://open.spotify.com/track/…" required></label>
      <div class="row">
        <label class="field"><span>Title</span><input name="track" id="add-track" placeholder="optional if Spotify knows it"></label>
        <label class="field"><span>Artist</span><input name="artist" id="add-artist" placeholder="optional"></label>
      </div>
      <button type="submit" class="primary">Add to the queue</button>
      <p class="form-error" id="add-error" role="alert"></p>
    </form>
    ${
      viewer.isOwner
        ? `<div class="owner" id="owner-controls">
      <button type="button" data-owner="skip">${icon('skip')} Skip</button>
      <button type="button" data-owner="pause" id="pause">${icon('pause')} Pause</button>
      <button type="button" data-owner="clear">${icon('clear')} Clear</button>
      <label class="toggle"><input type="checkbox" id="throwback"> Throwback</label>
    </div>`
        : ''
    }
  </section>
  ${saySectionHtml()}
  ${membersSectionHtml(viewer.isOwner)}
  <section class="card">
    <h2>Recent shares</h2>
    <ul id="recent" class="recent"><li class="empty">No shares yet.</li></ul>
  </section>
  <section class="card">
    <h2>Stats <select id="stats-range" aria-label="Range"><option value="30">30 days</option><option value="365">year</option><option value="3650">all</option></select></h2>
    <div id="stats"><p class="empty">Loading…</p></div>
  </section>
  ${recapSectionHtml()}
  <section class="card">
    <h2>Import your Spotify history</h2>
    <p class="hint">Request your data at spotify.com/account/privacy, then upload the ZIP here. Plays under 30 s and private sessions are skipped.</p>
    <form id="import" class="import">
      <input type="file" id="import-file" accept=".zip,application/zip" required>
      <button type="submit" class="primary">Upload</button>
      <div class="progress" hidden id="import-progress"><div class="bar" id="import-bar"></div></div>
      <p id="import-status" class="hint" role="status"></p>
    </form>
  </section>
  ${
    viewer.isOwner
      ? `<section class="card">
    <h2>Crew settings</h2>
    <label class="toggle"><input type="checkbox" id="share-history"${viewer.shareHistory ? ' checked' : ''}> Newcomers see the crew’s history</label>
    <p class="hint">Off: someone who joins sees the crew’s shares, reactions and messages from their join on. On: from the crew’s start.</p>
  </section>`
      : ''
  }
  ${spotifyDevicesSectionHtml()}
  ${mcpTokensSectionHtml()}
  ${viewer.isOwner ? spotifyAppSectionHtml() : ''}
</main>
<div id="horn" class="horn" hidden><div>${icon('airhorn')}</div><p id="horn-from"></p></div>
<div id="toast" class="toast" role="alert" hidden></div>`;
  return pageShell(
    `${viewer.crewName || 'Crew'} · LEELOO`,
    body,
    CREW_API_SCRIPT +
      CREW_PAGE_SCRIPT +
      SAY_SCRIPT +
      MEMBERS_SCRIPT +
      RECAP_SCRIPT +
      SPOTIFY_SEARCH_SCRIPT +
      MCP_TOKENS_SCRIPT +
      (viewer.isOwner ? SPOTIFY_APP_SCRIPT : ''),
  );
}

const GADGET_HINT = 'On the gadget: hold any button, choose <b>Crew page</b>, and scan the new QR code.';

/** The page for a link that does not work; `hint` (HTML) says where to get a new one. */
export function linkErrorPageHtml(code: ErrorCode, message: string, hint = GADGET_HINT): string {
  const title = code === 'link_expired' ? 'This link has expired' : code === 'link_invalid' ? 'This link does not work' : 'Something went wrong';
  const body = `
<main class="error-page">
  <div class="card">
    <div class="big">${icon('link')}</div>
    <h1>${escapeHtml(title)}</h1>
    <p>${escapeHtml(message)}</p>
    <p class="hint">${hint}</p>
    <p class="code">error code: <code id="error-code">${escapeHtml(code)}</code></p>
  </div>
</main>`;
  return pageShell(title, body);
}
