/**
 * Time as the relay client and controller see it. Production uses the system clock;
 * tests inject a manual one so backoff and heartbeats run without real waiting.
 */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | null): void;
}

export type TimerHandle = { readonly __timer: unique symbol } | ReturnType<typeof setTimeout>;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => {
    const handle = setTimeout(callback, ms);
    // Timers must not keep a stopping daemon alive.
    handle.unref?.();
    return handle;
  },
  clearTimeout: (handle) => {
    if (handle) clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};
