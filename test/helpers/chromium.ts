import { chromium, type Browser } from 'playwright-core';

/** The system's headless Chromium for page tests; extraArgs add flags (e.g. --host-resolver-rules). */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', ...extraArgs],
  });
}
