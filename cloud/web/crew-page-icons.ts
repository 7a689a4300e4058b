/**
 * The crew page's icons as inline SVG. Emoji and symbol characters depend on the
 * phone's fonts (a browser without an emoji font draws empty boxes), so every icon on
 * the page is drawn from these paths, in the text colour (`currentColor`).
 */

const FILLED = 'fill="currentColor" stroke="none"';
const STROKED = 'fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"';

const SHAPES = {
  airhorn: `<path ${FILLED} d="M3 9.5h3l7-4.5v14l-7-4.5H3z"/><path ${STROKED} d="M16 9a4 4 0 0 1 0 6M18.5 6.5a7.5 7.5 0 0 1 0 11"/>`,
  jam: `<path ${FILLED} d="M12 2c.8 3.6 5.5 6 5.5 11.2A5.5 5.5 0 0 1 12 19a5.5 5.5 0 0 1-5.5-5.8c0-2.6 1.6-4 2.3-6.2 1.3 1 2 2.4 2.2 3.8C12.6 8.6 12.7 5.2 12 2z"/>`,
  up: `<path ${FILLED} d="M12 5l8 13H4z"/>`,
  down: `<path ${FILLED} d="M12 19L4 6h16z"/>`,
  remove: `<path ${STROKED} d="M6 6l12 12M18 6L6 18"/>`,
  skip: `<path ${FILLED} d="M5 5l10 7-10 7zM16 5h3v14h-3z"/>`,
  pause: `<path ${FILLED} d="M6 5h4v14H6zM14 5h4v14h-4z"/>`,
  play: `<path ${FILLED} d="M7 4.5l12 7.5-12 7.5z"/>`,
  clear: `<path ${STROKED} d="M4 7h16M9 7V4h6v3M6.5 7l1 13h9l1-13M10 11v5M14 11v5"/>`,
  throwback: `<path ${STROKED} d="M3.5 12a8.5 8.5 0 1 0 2.5-6L3.5 8.5M3.5 3.5v5h5M12 8v4.5l3 2"/>`,
  note: `<path ${STROKED} d="M9 18V5.5l10-2V16"/><circle ${FILLED} cx="6.5" cy="18" r="2.8"/><circle ${FILLED} cx="16.5" cy="16" r="2.8"/>`,
  love: `<path ${FILLED} d="M12 20.5s-8-4.9-8-10.6A4.4 4.4 0 0 1 12 7.3a4.4 4.4 0 0 1 8 2.6c0 5.7-8 10.6-8 10.6z"/>`,
  text: `<path ${STROKED} d="M4 5h16v11H9.5L5 19.5V16H4z"/>`,
  link: `<path ${STROKED} d="M10 14a4.2 4.2 0 0 0 6 0l3-3a4.2 4.2 0 0 0-6-6l-1 1M14 10a4.2 4.2 0 0 0-6 0l-3 3a4.2 4.2 0 0 0 6 6l1-1"/>`,
} as const;

export type IconName = keyof typeof SHAPES;

/** One icon as SVG markup (decorative: the control around it carries the label). */
export function icon(name: IconName): string {
  return `<svg class="icon icon-${name}" viewBox="0 0 24 24" aria-hidden="true" focusable="false">${SHAPES[name]}</svg>`;
}

/** Every icon by name, for the page script (JSON with `<` escaped, safe inside a script element). */
export function iconsForScript(): string {
  const all = Object.fromEntries(Object.keys(SHAPES).map((name) => [name, icon(name as IconName)]));
  return JSON.stringify(all).replace(/</g, '\\u003c');
}
