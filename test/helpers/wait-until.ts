/**
 * Waits for a condition the code under test reaches by itself, polling once per turn of
 * the event loop (no fixed sleep; an async condition, such as a store query, is awaited
 * between turns); fails with `timed out waiting for <what>` after timeoutMs.
 */
export async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}
