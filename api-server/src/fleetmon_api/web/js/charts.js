// uPlot time-series charts that follow the colour scheme and the width of their card.

import { h } from "./dom.js";

/** @typedef {(v: number | null) => string} Format */
/**
 * @typedef {object} ChartDef
 * @property {string} id
 * @property {string} title
 * @property {string} [subtitle]
 * @property {Format} format
 * @property {number} [yMin]
 * @property {number} [yMax]
 * @property {number} [height]
 */
/** @typedef {{label: string, color?: string}} SeriesDef */
/** @typedef {Array<Array<number | null>>} Columns uPlot's layout: times, then one column per line */
/** @typedef {{series: SeriesDef[], data: Columns, xRange?: [number, number]}} ChartData */
/** @typedef {{label: string, points: Array<[number, number | null]>}} Line */

const PALETTE_LIGHT = ["#1f6feb", "#d4380d", "#2da44e", "#8250df", "#bf8700", "#0598bc", "#cf222e", "#6e7781"];
const PALETTE_DARK = ["#58a6ff", "#ff7b4a", "#3fb950", "#bc8cff", "#e3b341", "#39c5cf", "#ff7b72", "#8b949e"];

const dark = window.matchMedia("(prefers-color-scheme: dark)");

function theme() {
  const css = getComputedStyle(document.documentElement);
  const v = (/** @type {string} */ name) => css.getPropertyValue(name).trim();
  return {
    palette: dark.matches ? PALETTE_DARK : PALETTE_LIGHT,
    axis: v("--muted") || "#6e7781",
    grid: v("--grid") || "rgba(128,128,128,.15)",
    font: `11px ${v("--font-sans") || "system-ui"}`,
  };
}

/** @param {number} i */
export function colorAt(i) {
  const p = dark.matches ? PALETTE_DARK : PALETTE_LIGHT;
  return p[i % p.length];
}

/** @param {Array<number | null | undefined> | undefined} col */
function lastValue(col) {
  if (!col) return null;
  for (let i = col.length - 1; i >= 0; i -= 1) if (col[i] !== null && col[i] !== undefined) return col[i];
  return null;
}

// Time-axis labels: uPlot's defaults, in the viewer's local time.
/**
 * @param {{width: number, height: number, series: SeriesDef[], format: Format, yMin?: number, yMax?: number, stacked?: boolean}} o
 */
function makeOpts({ width, height, series, format, yMin, yMax, stacked = false }) {
  const t = theme();
  const axisCommon = {
    stroke: t.axis,
    font: t.font,
    grid: { stroke: t.grid, width: 1 },
    ticks: { stroke: t.grid, width: 1, size: 4 },
  };
  return {
    width,
    height,
    cursor: { drag: { x: true, y: false }, points: { size: 6 } },
    legend: { live: true },
    scales: {
      x: { time: true },
      y: {
        range: (/** @type {unknown} */ _u, /** @type {number | null} */ min, /** @type {number | null} */ max) => {
          const lo = yMin ?? (min === null ? 0 : Math.min(0, min));
          let hi = yMax ?? (max === null || max <= lo ? lo + 1 : max * 1.1);
          if (yMax !== undefined && max !== null && max > yMax) hi = max;
          return [lo, hi];
        },
      },
    },
    axes: [
      { ...axisCommon },
      {
        ...axisCommon,
        values: (/** @type {unknown} */ _u, /** @type {number[]} */ vals) => vals.map((v) => format(v)),
        // Wide enough for the longest tick label ("12.5 Mbit/s"), measured on the canvas.
        size: (/** @type {any} */ u, /** @type {string[] | null} */ values) => {
          if (!values) return 48;
          u.ctx.font = t.font;
          const widest = Math.max(...values.map((v) => u.ctx.measureText(String(v)).width));
          return Math.ceil(widest) + 20;
        },
      },
    ],
    series: [
      { label: "Time" },
      ...series.map((s, i) => {
        const stroke = s.color || t.palette[i % t.palette.length];
        return {
          label: s.label,
          stroke,
          width: 1.6,
          fill: stacked || series.length === 1 ? `${stroke}22` : undefined,
          // uPlot's default: dots only when the points are far apart (sparse or coarse data).
          spanGaps: false,
          // Off the chart the legend shows each line's latest value instead of a dash.
          value: (/** @type {any} */ u, /** @type {number | null} */ v, /** @type {number} */ sidx, /** @type {number | null | undefined} */ idx) => format(idx === null || idx === undefined ? (lastValue(u.data[sidx]) ?? null) : v),
        };
      }),
    ],
  };
}

// A chart card: title, the plot, and an empty state; returns {el, update(data), destroy()}.
/** @param {ChartDef} def */
export function chartCard({ id, title, subtitle, format, yMin, yMax, height = 200 }) {
  const body = h("div", { class: "chart-body" });
  const empty = h("p", { class: "chart-empty", hidden: true }, "No data in this time range");
  const el = h(
    "section",
    { class: "card chart-card", "aria-labelledby": `${id}-title`, "data-chart": id },
    h("header", { class: "card-head" }, h("h3", { id: `${id}-title` }, title), subtitle ? h("span", { class: "card-sub" }, subtitle) : null),
    body,
    empty,
  );
  /** @type {any} */
  let plot = null;
  /** @type {ChartData | null} */
  let last = null;
  let seriesSig = "";

  const widthOf = () => Math.max(240, Math.floor(body.clientWidth || el.clientWidth - 32 || 480));

  function render() {
    if (!last || typeof window.uPlot !== "function") return;
    const { series, data } = last;
    const hasData = data.length > 1 && data[0].length > 0 && series.length > 0;
    empty.hidden = hasData;
    body.hidden = !hasData;
    el.dataset.series = String(hasData ? series.length : 0);
    if (!hasData) {
      if (plot) plot.destroy();
      plot = null;
      seriesSig = "";
      return;
    }
    const sig = series.map((s) => s.label).join("\u0000");
    if (plot && sig === seriesSig) {
      plot.setData(data);
    } else {
      if (plot) plot.destroy();
      seriesSig = sig;
      plot = new window.uPlot(makeOpts({ width: widthOf(), height, series, format, yMin, yMax }), data, body);
    }
    // The whole selected window, not just the span that has data: gaps and young hosts show.
    if (last.xRange) plot.setScale("x", { min: last.xRange[0], max: last.xRange[1] });
  }

  const ro = new ResizeObserver(() => {
    if (plot) plot.setSize({ width: widthOf(), height });
  });
  ro.observe(el);
  const onScheme = () => {
    if (plot) {
      plot.destroy();
      plot = null;
      seriesSig = "";
      render();
    }
  };
  dark.addEventListener("change", onScheme);

  return {
    el,
    /** @param {ChartData} next */
    update(next) {
      last = next;
      render();
    },
    destroy() {
      ro.disconnect();
      dark.removeEventListener("change", onScheme);
      if (plot) plot.destroy();
      plot = null;
    },
  };
}

// Merge several [[t, v], ...] series onto one sorted time axis (uPlot's columnar layout).
// Buckets where every series is empty are dropped when the gap is short (the step is finer
// than the agent's interval), so lines connect; a long gap keeps one empty row and the line
// breaks there, which is how an outage shows.
/**
 * @param {Line[]} seriesList
 * @param {number} [maxGapBuckets]
 * @returns {Columns}
 */
export function align(seriesList, maxGapBuckets = 3) {
  const [xs, ...ys] = alignRaw(seriesList);
  /** @type {number[]} */
  const keep = [];
  /** @type {number[]} */
  let run = [];
  const flush = (/** @type {boolean} */ atEnd) => {
    if (run.length > maxGapBuckets && !atEnd && keep.length) keep.push(run[0]);
    run = [];
  };
  for (let i = 0; i < xs.length; i += 1) {
    if (ys.every((col) => col[i] === null || col[i] === undefined)) run.push(i);
    else {
      flush(false);
      keep.push(i);
    }
  }
  flush(true);
  return [keep.map((i) => xs[i]), ...ys.map((col) => keep.map((i) => col[i]))];
}

/**
 * @param {Line[]} seriesList
 * @returns {Columns}
 */
function alignRaw(seriesList) {
  /** @type {Set<number>} */
  const times = new Set();
  for (const s of seriesList) for (const [t] of s.points) times.add(t);
  const xs = Array.from(times).sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  const ys = seriesList.map((s) => {
    /** @type {Array<number | null>} */
    const col = new Array(xs.length).fill(null);
    for (const [t, v] of s.points) col[/** @type {number} */ (index.get(t))] = v;
    return col;
  });
  return [xs, ...ys];
}
