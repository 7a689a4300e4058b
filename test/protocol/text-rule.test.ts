import { describe, expect, it } from 'vitest';
import { cleanName, parseInbound, textProblem } from '../../protocol/index.js';

const URI = 'spotify:track:4uLU6hMCjMI75M1A2tKUQC';
const song = { artist: 'Björk', track: 'Joga', album: 'Homogenic', spotify_uri: URI, note: 'for you' };

/** Every free-text field a device sends, each as a valid frame and the path of the field in it. */
const FIELDS: Array<{ name: string; frame: Record<string, unknown>; path: string[]; kind: 'name' | 'message' }> = [
  { name: 'register.device_name', frame: { type: 'register', crew_code: 'alpha', device_name: 'Ana' }, path: ['device_name'], kind: 'name' },
  { name: 'register.crew_code (crew word)', frame: { type: 'register', crew_code: 'alpha' }, path: ['crew_code'], kind: 'name' },
  { name: 'hello.device_name', frame: { type: 'hello', protocol_version: 3, device_name: 'Ana' }, path: ['device_name'], kind: 'name' },
  { name: 'create_crew.display_name', frame: { type: 'create_crew', display_name: 'Ana' }, path: ['display_name'], kind: 'name' },
  { name: 'create_crew.crew_name', frame: { type: 'create_crew', display_name: 'Ana', crew_name: 'Sunday' }, path: ['crew_name'], kind: 'name' },
  { name: 'join_crew.display_name', frame: { type: 'join_crew', crew_code: 'LEELOO-7KQ2', display_name: 'Ana' }, path: ['display_name'], kind: 'name' },
  { name: 'rename_crew.crew_name', frame: { type: 'rename_crew', crew_name: 'Sunday' }, path: ['crew_name'], kind: 'name' },
  { name: 'set_display_name.display_name', frame: { type: 'set_display_name', display_name: 'Ana' }, path: ['display_name'], kind: 'name' },
  ...(['artist', 'track', 'album'] as const).map((field) => ({
    name: `share_music.${field}`,
    frame: { type: 'share_music', ...song },
    path: [field],
    kind: 'name' as const,
  })),
  ...(['artist', 'track', 'album', 'note'] as const).map((field) => ({
    name: `song_push.${field}`,
    frame: { type: 'message', msg_type: 'song_push', payload: song },
    path: ['payload', field],
    kind: 'name' as const,
  })),
  { name: 'text.text', frame: { type: 'message', msg_type: 'text', payload: { text: 'hi' } }, path: ['payload', 'text'], kind: 'message' },
  {
    name: 'hang_propose.datetime',
    frame: { type: 'message', msg_type: 'hang_propose', payload: { datetime: 'friday 7pm', description: 'park' } },
    path: ['payload', 'datetime'],
    kind: 'name',
  },
  {
    name: 'hang_propose.description',
    frame: { type: 'message', msg_type: 'hang_propose', payload: { datetime: 'friday 7pm', description: 'park' } },
    path: ['payload', 'description'],
    kind: 'name',
  },
  ...(['artist', 'track', 'album'] as const).map((field) => ({
    name: `queue_add.${field}`,
    frame: { type: 'queue_add', spotify_uri: URI, track: 'Joga', artist: 'Björk', album: 'Homogenic' },
    path: [field],
    kind: 'name' as const,
  })),
];

// Each bad character inside an otherwise ordinary value.
const REFUSED_EVERYWHERE: Array<[string, string]> = [
  ['NUL', '\u0000'],
  ['bell', '\u0007'],
  ['escape', '\u001b'],
  ['DEL', '\u007f'],
  ['C1 next line', '\u0085'],
  ['LRE', '\u202a'],
  ['RLO', '\u202e'],
  ['LRI', '\u2066'],
  ['PDI', '\u2069'],
  ['zero-width space', '\u200b'],
  ['ZWNJ', '\u200c'],
  ['word joiner', '\u2060'],
  ['BOM', '\ufeff'],
  ['lone high surrogate', '\ud83d'],
  ['lone low surrogate', '\ude00'],
];
const REFUSED_IN_NAMES: Array<[string, string]> = [
  ['newline', '\n'],
  ['tab', '\t'],
  ['ZWJ', '\u200d'],
];

function withField(frame: Record<string, unknown>, path: string[], value: string): Record<string, unknown> {
  const copy = structuredClone(frame);
  let target = copy;
  for (const key of path.slice(0, -1)) target = target[key] as Record<string, unknown>;
  target[path.at(-1)!] = value;
  return copy;
}

describe('the one text rule', () => {
  for (const field of FIELDS) {
    it(`${field.name}: refuses control, bidi, zero-width characters and lone surrogates`, () => {
      expect(parseInbound(field.frame)).toMatchObject({ ok: true });
      const refused = field.kind === 'name' ? [...REFUSED_EVERYWHERE, ...REFUSED_IN_NAMES] : REFUSED_EVERYWHERE;
      for (const [label, char] of refused) {
        const result = parseInbound(withField(field.frame, field.path, `Ana${char}Bo`));
        expect(result.ok, `${field.name} with ${label}`).toBe(false);
        if (!result.ok) expect(result.message, label).toContain(field.path.join('.'));
      }
    });
  }

  it('keeps line breaks, tabs and emoji sequences in message text, and ordinary scripts everywhere', () => {
    const text = FIELDS.find((f) => f.name === 'text.text')!;
    for (const ok of ['line one\nline two\r\n\tindented', 'family 👩\u200d👩\u200d👧', 'عربى עברית 日本語 😀']) {
      expect(parseInbound(withField(text.frame, text.path, ok)), JSON.stringify(ok)).toMatchObject({ ok: true });
    }
    const name = FIELDS.find((f) => f.name === 'hello.device_name')!;
    for (const ok of ['Zoë', 'محمد', 'Łukasz 😀', '李']) {
      expect(parseInbound(withField(name.frame, name.path, ok)), ok).toMatchObject({ ok: true });
    }
  });

  it('says in a sentence what is wrong', () => {
    expect(textProblem('a\u202eb', 'name')).toBe('must not contain bidirectional override characters');
    expect(textProblem('a\u200bb', 'message')).toBe('must not contain zero-width characters');
    expect(textProblem('a\ud800', 'name')).toBe('must not contain unpaired surrogates');
    expect(textProblem('a\nb', 'message')).toBeNull();
    expect(textProblem('a\nb', 'name')).toBe('must not contain control characters');
  });

  it('cleans a name a third party sends (the Telegram bot) with the same rule', () => {
    expect(cleanName('An\u202ea\u200b\u0007x\ud800')).toBe('An a  x ');
    expect(cleanName('Zoë 😀')).toBe('Zoë 😀');
  });
});
