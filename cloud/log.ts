import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Paths pino blanks out wherever they appear in a log object: device secrets, Spotify
 * tokens, client secrets, authorization headers and cookies never reach a log file.
 */
export const REDACT_PATHS = [
  'device_secret',
  '*.device_secret',
  'secret',
  '*.secret',
  'secretHash',
  '*.secretHash',
  'access_token',
  '*.access_token',
  'refresh_token',
  '*.refresh_token',
  'tokens',
  '*.tokens',
  'client_secret',
  '*.client_secret',
  'password',
  '*.password',
  'code_verifier',
  '*.code_verifier',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, base: { service: 'leeloo-relay' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}
