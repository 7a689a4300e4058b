import pino, { type Logger } from 'pino';

/** The daemon's logger. The device secret and tokens never reach a log line. */
export function createLogger(level: string, name = 'leeloo-device'): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: ['device_secret', '*.device_secret', 'secret', '*.secret', 'access_token', '*.access_token', 'refresh_token', '*.refresh_token', 'tokens'],
      censor: '[redacted]',
    },
  });
}
