// Auto-refresh: run a loader now and every few seconds, paused while the tab is hidden,
// never overlapping itself, and report freshness in the top bar.

/**
 * True for the error a fetch throws when its request was cancelled (page left, refresh).
 * @param {unknown} err
 */
export function isAbort(err) {
  return err instanceof DOMException && err.name === "AbortError";
}

const indicator = () => document.getElementById("refresh-state");

/**
 * @param {(signal: AbortSignal) => Promise<void>} load
 * @param {number} [intervalMs]
 */
export function poll(load, intervalMs = 5000) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let stopped = false;
  let running = false;
  let lastOk = 0;
  /** @type {AbortController | null} */
  let ctrl = null;
  let again = false;

  /**
   * @param {string} text
   * @param {string} state
   */
  const show = (text, state) => {
    const el = indicator();
    if (!el) return;
    el.textContent = text;
    el.dataset.state = state;
  };

  async function tick() {
    if (stopped) return;
    clearTimeout(timer);
    if (document.hidden) {
      show("Paused", "paused");
      return;
    }
    if (running) {
      again = true;
      return;
    }
    running = true;
    ctrl = new AbortController();
    try {
      await load(ctrl.signal);
      lastOk = Date.now();
      show("Live", "live");
    } catch (err) {
      if (!isAbort(err) && !stopped) show(lastOk ? "Update failed — retrying" : "Cannot load data", "error");
    } finally {
      running = false;
      if (!stopped) timer = setTimeout(tick, again ? 0 : intervalMs);
      again = false;
    }
  }

  const onVisibility = () => {
    if (!document.hidden) tick();
  };
  document.addEventListener("visibilitychange", onVisibility);
  tick();

  return {
    now: tick,
    stop() {
      stopped = true;
      clearTimeout(timer);
      if (ctrl) ctrl.abort();
      document.removeEventListener("visibilitychange", onVisibility);
      show("", "");
    },
  };
}
