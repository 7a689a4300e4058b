/** Whether an error means Redis could not be reached or cannot write now (a client retries), not a bug. */
export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'MaxRetriesPerRequestError') return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH)$/.test(code)) return true;
  return /Connection is closed|Stream isn't writeable|enableOfflineQueue|^(OOM|READONLY|LOADING|MASTERDOWN|MISCONF|BUSY)\b/.test(error.message);
}
