// Number, byte, rate and time formatting shared by every view.

const nf1 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1, minimumFractionDigits: 1 });
const nf2 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2, minimumFractionDigits: 2 });
const nf0 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

/**
 * @param {unknown} v
 * @returns {v is number}
 */
export const isNum = (v) => typeof v === "number" && Number.isFinite(v);

/** @param {number | null | undefined} v */
export function pct(v) {
  return isNum(v) ? `${nf1.format(v)}%` : "—";
}

/**
 * @param {number | null | undefined} v
 * @param {number} [digits]
 */
export function num(v, digits = 2) {
  if (!isNum(v)) return "—";
  return digits === 0 ? nf0.format(v) : digits === 1 ? nf1.format(v) : nf2.format(v);
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** @param {number | null | undefined} v */
export function bytes(v) {
  if (!isNum(v)) return "—";
  let i = 0;
  let x = Math.abs(v);
  while (x >= 1024 && i < UNITS.length - 1) {
    x /= 1024;
    i += 1;
  }
  const s = x >= 100 || i === 0 ? nf0.format(x) : nf1.format(x);
  return `${v < 0 ? "-" : ""}${s} ${UNITS[i]}`;
}

/** @param {number | null | undefined} v */
export function rate(v) {
  return isNum(v) ? `${bytes(v)}/s` : "—";
}

/** @param {number | null | undefined} v bytes per second */
export function bits(v) {
  // Network people think in bits per second.
  if (!isNum(v)) return "—";
  const units = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"];
  let x = v * 8;
  let i = 0;
  while (x >= 1000 && i < units.length - 1) {
    x /= 1000;
    i += 1;
  }
  return `${x >= 100 || i === 0 ? nf0.format(x) : nf1.format(x)} ${units[i]}`;
}

/** @param {number | null | undefined} seconds */
export function duration(seconds) {
  if (!isNum(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/**
 * @param {number | null | undefined} epochSeconds
 * @param {number} [now]
 */
export function ago(epochSeconds, now = Date.now() / 1000) {
  if (!isNum(epochSeconds)) return "never";
  const d = now - epochSeconds;
  if (d < 5) return "just now";
  return `${duration(d).split(" ")[0]} ago`;
}

/**
 * Epoch seconds from an ISO-8601 string (UTC when it has no offset), as the API sends times.
 * @param {string | null | undefined} value
 * @returns {number | null}
 */
export function toEpoch(value) {
  if (value === null || value === undefined || value === "") return null;
  const s = value;
  const hasZone = /[zZ]|[+-]\d\d:?\d\d$/.test(s);
  const t = Date.parse(hasZone ? s : `${s}Z`);
  return Number.isNaN(t) ? null : t / 1000;
}

const dtf = new Intl.DateTimeFormat(undefined, {
  year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
});

/** @param {number | null | undefined} epochSeconds */
export function datetime(epochSeconds) {
  return isNum(epochSeconds) ? dtf.format(new Date(epochSeconds * 1000)) : "—";
}

const UNIT_S = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * "90", "90s", "5m", "1h", "2d" -> seconds; null when the text is not a duration.
 * @param {string} text
 * @returns {number | null}
 */
export function parseSeconds(text) {
  const m = /^\s*(\d+)\s*([smhd]?)\s*$/.exec(text);
  if (!m) return null;
  const unit = /** @type {keyof typeof UNIT_S | ""} */ (m[2]);
  return Number(m[1]) * (unit ? UNIT_S[unit] : 1);
}

/**
 * Seconds as the shortest exact duration text: 300 -> "5m", 90 -> "90s", 0 -> "0s".
 * @param {number} seconds
 */
export function formatSeconds(seconds) {
  for (const [unit, size] of /** @type {Array<[string, number]>} */ ([["d", 86400], ["h", 3600], ["m", 60]])) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
