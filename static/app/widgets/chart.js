// widgets/chart.js - the dashboard's one time-series chart (uPlot, vendored,
// loaded on first use so the first load of the dashboard stays small).
//
// chart({ series: [{ label, unit }], ctx, caption, height, max })
//   -> { el, push(t, values), set(rows) }
//   t: seconds since the epoch, a Date or an RFC 3339 string;
//   values: one number (or null for a gap) per series;
//   rows: [[t, v1, v2, ...], ...] oldest first (replaces everything).
//
// Accessible: a visible caption (<figcaption>) and, under the plot, a
// table of the latest value of each series (the text alternative of the
// canvas, which is aria-hidden).  The plot follows its container's width
// (ResizeObserver) and is destroyed with the page (ctx.cleanup).  When the
// library cannot be loaded the table still works and a note says why.
import { h, replace } from '../core/dom.js';
import * as ui from '../core/ui.js';

const UPLOT_JS = '/vendor/uplot/uPlot.esm.js';
const UPLOT_CSS = '/vendor/uplot/uPlot.min.css';
const DEFAULT_MAX = 2000;   // points kept per chart: 5.5 h of 10 s points
// Colour-blind-safe (Okabe-Ito), each >= 3:1 against both themes' surface.
const PALETTE = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9'];

let lib = null;
function uplot() {
	if (!lib) {
		if (!document.querySelector('link[data-vendor="uplot"]')) {
			document.head.append(h('link', { rel: 'stylesheet', href: UPLOT_CSS, dataset: { vendor: 'uplot' } }));
		}
		lib = import(UPLOT_JS).then(m => m.default).catch((e) => {
			lib = null;   // a later page may try again
			throw e;
		});
	}
	return lib;
}

function seconds(t) {
	if (typeof t === 'number')
		return t;
	if (t instanceof Date)
		return t.getTime() / 1000;
	return Date.parse(t) / 1000;
}

// The one formatter of a chart's values (axes, table).
export function format(v, unit) {
	if (v === null || v === undefined || Number.isNaN(v))
		return '—';
	switch (unit) {
	case 'bytes':
		return ui.bytes(v);
	case 'bytes/s':
		return ui.bytes(v) + '/s';
	case '%':
		return v.toFixed(v < 10 ? 1 : 0) + ' %';
	case 'ms':
		return v.toFixed(v < 10 ? 1 : 0) + ' ms';
	default: {
		const s = Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(2);
		return unit ? s + ' ' + unit : s;
	}
	}
}

function clock(sec) {
	return new Date(sec * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function chart({ series, ctx, caption, height = 180, max = DEFAULT_MAX } = {}) {
	const cols = [[], ...series.map(() => [])];
	const plot = h('div', { class: 'chart-plot', 'aria-hidden': 'true' });
	const note = h('p', { class: 'chart-note muted' }, 'No data yet.');
	const at = h('caption', { class: 'chart-at' }, 'Latest values');
	const cells = series.map(() => h('td', {}, '—'));
	const table = h('table', { class: 'chart-latest' }, at,
		h('tbody', {}, series.map((s, i) => h('tr', {},
			h('th', { scope: 'row' }, h('span', { class: 'chart-key chart-key-' + i, 'aria-hidden': 'true' }), s.label),
			cells[i]))));
	const el = h('figure', { class: 'chart' },
		caption ? h('figcaption', { class: 'chart-caption' }, caption) : null, plot, note, table);

	let u = null;
	let dead = false;
	let ro = null;

	function summary() {
		const n = cols[0].length;
		note.hidden = n > 0 || !!note.dataset.error;
		if (!n)
			return;
		at.textContent = 'Latest values, ' + clock(cols[0][n - 1]);
		series.forEach((s, i) => {
			cells[i].textContent = format(cols[i + 1][n - 1], s.unit);
		});
	}

	function draw() {
		if (u) {
			const n = cols[0].length;
			const span = n ? cols[0][n - 1] - cols[0][0] : 0;
			// One point (a server just added): the ten minutes before it,
			// not uPlot's own span of years around a single point.
			u.setData(cols, span >= 60);
			if (span < 60) {
				const end = n ? cols[0][n - 1] : Date.now() / 1000;
				u.setScale('x', { min: end - 600, max: end + 30 });
			}
		}
		summary();
	}

	function options(width) {
		const style = getComputedStyle(el);
		const fg = style.getPropertyValue('--chart-axis').trim() || style.color || '#444';
		const grid = style.getPropertyValue('--chart-grid').trim() || 'rgba(128,128,128,0.25)';
		const units = [...new Set(series.map(s => s.unit || ''))];
		const scaleOf = s => 'y' + units.indexOf(s.unit || '');
		return {
			width, height,
			legend: { show: false },
			cursor: { drag: { x: false, y: false } },
			scales: { x: { time: true }, ...Object.fromEntries(units.map((unit, i) => ['y' + i,
				unit === '%' ? { range: (_u, lo, hi) => [0, Math.max(100, hi || 0)] } : { range: (_u, lo, hi) => [Math.min(0, lo || 0), (hi || 1) * 1.1] }])) },
			series: [{}, ...series.map((s, i) => ({
				label: s.label, scale: scaleOf(s), stroke: PALETTE[i % PALETTE.length], width: 2,
				spanGaps: false,
			}))],
			axes: [
				{ stroke: fg, grid: { stroke: grid }, ticks: { stroke: grid } },
				...units.slice(0, 2).map((unit, i) => ({
					scale: 'y' + i, side: i ? 1 : 3, stroke: fg, size: 70,
					grid: { show: i === 0, stroke: grid }, ticks: { stroke: grid },
					values: (_u, vals) => vals.map(v => format(v, unit)),
				})),
			],
		};
	}

	uplot().then((UPlot) => {
		if (dead)
			return;
		u = new UPlot(options(Math.max(200, plot.clientWidth || 600)), cols, plot);
		draw();
		ro = new ResizeObserver(() => {
			const w = plot.clientWidth;
			if (u && w > 0 && w !== u.width)
				u.setSize({ width: w, height });
		});
		ro.observe(plot);
	}).catch(() => {
		if (dead)
			return;
		note.dataset.error = '1';
		replace(plot, h('p', { class: 'muted' }, 'The chart library could not be loaded; the latest values are below.'));
		plot.removeAttribute('aria-hidden');
		summary();
	});

	if (ctx) {
		ctx.cleanup(() => {
			dead = true;
			if (ro)
				ro.disconnect();
			if (u)
				u.destroy();
			u = null;
		});
	}

	return {
		el,
		push(t, values) {
			const x = seconds(t);
			if (!Number.isFinite(x))
				return;
			const n = cols[0].length;
			if (n && x <= cols[0][n - 1]) {
				// The same point again (a stream's backlog overlapping the history): replace it.
				const i = cols[0].lastIndexOf(x);
				if (i < 0)
					return;
				series.forEach((_s, k) => { cols[k + 1][i] = values[k] ?? null; });
			} else {
				cols[0].push(x);
				series.forEach((_s, k) => cols[k + 1].push(values[k] ?? null));
				if (cols[0].length > max)
					cols.forEach(c => c.splice(0, c.length - max));
			}
			draw();
		},
		set(rows) {
			cols.forEach(c => { c.length = 0; });
			for (const r of (rows || []).slice(-max)) {
				const x = seconds(r[0]);
				if (!Number.isFinite(x))
					continue;
				cols[0].push(x);
				series.forEach((_s, k) => cols[k + 1].push(r[k + 1] ?? null));
			}
			draw();
		},
		get length() {
			return cols[0].length;
		},
	};
}
