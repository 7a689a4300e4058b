/** A cookie's value from a Cookie header, or null (absent, or a malformed %-escape). */
export function cookieValue(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key !== name) continue;
    try {
      return decodeURIComponent(rest.join('='));
    } catch {
      return null; // a malformed %-escape: no cookie, so the link must be opened again
    }
  }
  return null;
}
