import { tokenFingerprint, type InboundMessage, type OutboundMessage } from '../../../protocol/index.js';
import type { Clock, TimerHandle } from '../../clock.js';
import { SpotifyError } from '../../../spotify/spotify-http.js';
import { NotSignedInError, type AccessTokenSource } from '../../../spotify/web-api.js';

/** The part of the relay client the token source needs (RelayClient fits); answers arrive through handle(). */
export interface RelayLink {
  sendNow(message: InboundMessage): boolean;
}

type Waiter = { resolve(token: string): void; reject(error: Error): void; timer: TimerHandle | null };

/**
 * Access tokens for the gadget come from the relay's broker (the refresh token never
 * reaches the gadget). Tokens are kept until a minute before they expire; concurrent
 * callers share one request.
 */
export class RelayTokenSource implements AccessTokenSource {
  private token_: { value: string; expiresAt: number } | null = null;
  private waiters: Waiter[] = [];
  private apiUrlValue: string;
  /** Until a spotify_token names the relay's Web API URL, tokens are asked for again. */
  private apiUrlKnown = false;

  constructor(
    private readonly relay: RelayLink,
    private readonly clock: Clock,
    defaultApiUrl: string,
    private readonly timeoutMs = 10_000,
  ) {
    this.apiUrlValue = defaultApiUrl;
  }

  /** The Web API base URL the relay's tokens are for. */
  get apiUrl(): string {
    return this.apiUrlValue;
  }

  /** Feeds relay frames in; returns what the gadget should learn from them. */
  handle(message: OutboundMessage): 'signed_in' | 'signin_required' | 'not_configured' | null {
    if (message.type === 'spotify_auth_complete') {
      this.accept(message.tokens.access_token, this.clock.now() + message.tokens.expires_in * 1000);
      return 'signed_in';
    }
    if (message.type === 'spotify_token') {
      this.apiUrlValue = message.api_url;
      this.apiUrlKnown = true;
      this.accept(message.access_token, message.expires_at);
      return null;
    }
    if (message.type === 'spotify_signin_required') {
      this.token_ = null;
      this.settle((w) => w.reject(new NotSignedInError(message.reason, message.message)));
      return 'signin_required';
    }
    if (message.type === 'error' && message.code === 'spotify_not_configured') {
      // Not a passing fault: nobody can sign in until the relay (or the crew owner) has a Spotify app.
      this.token_ = null;
      this.settle((w) => w.reject(new NotSignedInError('not_configured', message.message)));
      return 'not_configured';
    }
    if (message.type === 'error' && message.code === 'spotify_unavailable') {
      this.settle((w) => w.reject(new SpotifyError('unavailable', { sentence: message.message })));
    }
    return null;
  }

  async token(): Promise<string> {
    if (this.apiUrlKnown && this.token_ && this.token_.expiresAt - 60_000 > this.clock.now()) return this.token_.value;
    return this.request();
  }

  /** After a 401: the relay is told which token Spotify refused, so it refreshes rather than repeating it. */
  async refresh(refused: string): Promise<string> {
    if (this.token_ && this.token_.value !== refused && this.token_.expiresAt - 60_000 > this.clock.now()) return this.token_.value;
    this.token_ = null;
    return this.request(tokenFingerprint(refused));
  }

  /** Forgets the token (re-pairing). */
  clear(): void {
    this.token_ = null;
  }

  private request(refused?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      // A request naming a refused token is sent even while another is under way: that one may bring the refused token back.
      const send = this.waiters.length === 0 || refused !== undefined;
      const waiter: Waiter = { resolve, reject, timer: null };
      waiter.timer = this.clock.setTimeout(() => this.drop(waiter, 'The relay did not answer the token request in time.'), this.timeoutMs);
      this.waiters.push(waiter);
      const message: InboundMessage = refused ? { type: 'spotify_token_request', refused } : { type: 'spotify_token_request' };
      if (send && !this.relay.sendNow(message)) this.drop(waiter, 'Not connected to the relay.');
    });
  }

  private drop(waiter: Waiter, sentence: string): void {
    this.waiters = this.waiters.filter((w) => w !== waiter);
    this.clock.clearTimeout(waiter.timer);
    waiter.reject(new SpotifyError('unavailable', { detail: sentence }));
  }

  private accept(value: string, expiresAt: number): void {
    this.token_ = { value, expiresAt };
    this.settle((w) => w.resolve(value));
  }

  private settle(each: (waiter: Waiter) => void): void {
    for (const waiter of this.waiters.splice(0)) {
      this.clock.clearTimeout(waiter.timer);
      each(waiter);
    }
  }
}
