import { describe, expect, it } from 'vitest';
import { RelayTokenSource } from '../../../device/features/spotify/relay-tokens.js';
import { NotSignedInError } from '../../../spotify/web-api.js';
import { SpotifyError } from '../../../spotify/spotify-http.js';
import { errorFrame, type InboundMessage } from '../../../protocol/index.js';
import { ManualClock } from '../../fakes/manual-clock.js';

/** The gadget's token source against a scripted relay link: what it asks, what it makes of the answers. */
function rig() {
  const sent: InboundMessage[] = [];
  const clock = new ManualClock(1_700_000_000_000);
  const tokens = new RelayTokenSource({ sendNow: (message: InboundMessage) => (sent.push(message), true) }, clock, 'https://api.example/v1');
  return { sent, clock, tokens };
}

describe('RelayTokenSource', () => {
  it("passes the relay's own sentence on when it cannot give a token", async () => {
    const { sent, tokens } = rig();
    const pending = tokens.token();
    expect(sent.map((m) => m.type)).toEqual(['spotify_token_request']);
    const sentence = "The relay cannot read this gadget's Spotify sign-in (its encryption key is not configured).";
    tokens.handle(errorFrame('spotify_unavailable', sentence));
    const error = await pending.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SpotifyError);
    expect((error as SpotifyError).code).toBe('unavailable');
    expect((error as Error).message).toBe(sentence);
  });

  it('tells a relay without a Spotify app apart from a passing fault', async () => {
    const { tokens } = rig();
    const pending = tokens.token();
    expect(tokens.handle(errorFrame('spotify_not_configured'))).toBe('not_configured');
    const error = await pending.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotSignedInError);
    expect((error as NotSignedInError).reason).toBe('not_configured');
  });

  it('shares one request between concurrent callers and keeps the token until a minute before it expires', async () => {
    const { sent, clock, tokens } = rig();
    const both = Promise.all([tokens.token(), tokens.token()]);
    expect(sent).toHaveLength(1);
    tokens.handle({ type: 'spotify_token', access_token: 'tok-1', expires_at: clock.now() + 3_600_000, api_url: 'https://api.example/v1' });
    expect(await both).toEqual(['tok-1', 'tok-1']);
    clock.advance(3_600_000 - 61_000);
    expect(await tokens.token()).toBe('tok-1');
    expect(sent).toHaveLength(1);
    clock.advance(2_000);
    void tokens.token().catch(() => undefined);
    expect(sent).toHaveLength(2);
  });
});
