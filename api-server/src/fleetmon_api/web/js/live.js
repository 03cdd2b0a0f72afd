// Auto-refresh: run a loader now and every few seconds, paused while the tab is hidden,
// never overlapping itself, and report freshness in the top bar.

const indicator = () => document.getElementById("refresh-state");

export function poll(load, intervalMs = 5000) {
  let timer = null;
  let stopped = false;
  let running = false;
  let lastOk = 0;
  let ctrl = null;
  let again = false;

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
      if (err.name !== "AbortError" && !stopped) show(lastOk ? "Update failed — retrying" : "Cannot load data", "error");
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
