// Number, byte, rate and time formatting shared by every view.

const nf1 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1, minimumFractionDigits: 1 });
const nf2 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2, minimumFractionDigits: 2 });
const nf0 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

export const isNum = (v) => typeof v === "number" && Number.isFinite(v);

export function pct(v) {
  return isNum(v) ? `${nf1.format(v)}%` : "—";
}

export function num(v, digits = 2) {
  if (!isNum(v)) return "—";
  return digits === 0 ? nf0.format(v) : digits === 1 ? nf1.format(v) : nf2.format(v);
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

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

export function rate(v) {
  return isNum(v) ? `${bytes(v)}/s` : "—";
}

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

export function duration(seconds) {
  if (!isNum(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

export function ago(epochSeconds, now = Date.now() / 1000) {
  if (!isNum(epochSeconds)) return "never";
  const d = now - epochSeconds;
  if (d < 5) return "just now";
  return `${duration(d).split(" ")[0]} ago`;
}

export function toEpoch(value) {
  // Accepts epoch seconds, epoch ms/ns, or an ISO-8601 string; returns epoch seconds.
  if (value === null || value === undefined || value === "") return null;
  if (typeof value === "number") {
    if (value > 1e17) return value / 1e9;
    if (value > 1e12) return value / 1e3;
    return value;
  }
  const s = String(value);
  const hasZone = /[zZ]|[+-]\d\d:?\d\d$/.test(s);
  const t = Date.parse(hasZone ? s : `${s}Z`);
  return Number.isNaN(t) ? null : t / 1000;
}

const dtf = new Intl.DateTimeFormat(undefined, {
  year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
});

export function datetime(epochSeconds) {
  return isNum(epochSeconds) ? dtf.format(new Date(epochSeconds * 1000)) : "—";
}
