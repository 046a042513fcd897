// The dashboard's components: one list with cursors, one form, one error
// display, dialogs, toasts.  Pages compose these; they do not copy them.
import { h, clear, replace, uid } from './dom.js';
import { api, ApiError } from './api.js';
import { href } from './router.js';

// ------------------------------------------------------------ first render
// Loads a component starts for its first render (a list's first page) are
// tracked here; the router awaits them before it marks the page ready.
const pending = new Set();
let routeSignal = null;

// Called by the router at each navigation: the loads of the page left
// behind are no longer awaited, and lists and polls created from now on
// stop (their requests aborted) when the user leaves the new page.
export function routeStarted(signal) {
	pending.clear();
	routeSignal = signal;
}

export function track(promise) {
	const p = Promise.resolve(promise).catch(() => {});
	pending.add(p);
	p.finally(() => pending.delete(p));
	return promise;
}

export async function settle() {
	while (pending.size)
		await Promise.allSettled([...pending]);
}

// ------------------------------------------------------------------ states
export function loading(label = 'Loading…') {
	return h('div', { class: 'state state-loading', role: 'status' },
		h('span', { class: 'spinner', 'aria-hidden': 'true' }), label);
}

export function empty(text, action) {
	return h('div', { class: 'state state-empty' }, h('p', {}, text), action || null);
}

// An API error as the user sees it: its message, its code and the request id
// to quote to an operator (which finds the request in every log).
export function showError(err, { title } = {}) {
	const e = err instanceof ApiError ? err : null;
	return h('div', { class: 'error-box', role: 'alert' },
		h('p', { class: 'error-title' }, title || (e && e.status === 403
			? 'Not allowed' : e && e.status === 404 ? 'Not found' : 'Something went wrong')),
		h('p', { class: 'error-message' }, (err && err.message) || String(err)),
		e && e.details.length ? h('ul', {}, e.details.map(d => h('li', {}, d.field + ': ' + d.message))) : null,
		e ? h('p', { class: 'error-meta' },
			e.code, e.requestId ? [' · request id ', h('code', {}, e.requestId)] : null) : null);
}

// ------------------------------------------------------------------ layout
export function pageHeader(title, { actions = [], crumbs = [], sub } = {}) {
	return h('div', { class: 'page-header' },
		crumbs.length ? h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
			h('ol', {}, crumbs.map(([label, path]) => h('li', {}, h('a', { href: href(path) }, label))))) : null,
		h('div', { class: 'page-title-row' },
			h('h1', { tabindex: '-1', class: 'page-title' }, title),
			h('div', { class: 'page-actions' }, actions.filter(Boolean))),
		sub ? h('p', { class: 'page-sub' }, sub) : null);
}

export function section(title, ...children) {
	const id = uid('sec');
	return h('section', { class: 'panel', 'aria-labelledby': id },
		h('h2', { id, class: 'panel-title' }, title), ...children);
}

export function tabs(items, activePath) {
	return h('nav', { class: 'tabs', 'aria-label': 'Sections' },
		h('ul', {}, items.filter(Boolean).map(t => h('li', {},
			h('a', { href: href(t.path), 'aria-current': t.path === activePath ? 'page' : null }, t.label)))));
}

// ----------------------------------------------------------------- values
const STATUS_KIND = {
	running: 'ok', online: 'ok', healthy: 'ok', active: 'ok', succeeded: 'ok', success: 'ok',
	ok: 'ok', verified: 'ok', issued: 'ok', resolved: 'ok', deployed: 'ok', ready: 'ok', live: 'ok',
	failed: 'bad', error: 'bad', crashed: 'bad', offline: 'bad', unhealthy: 'bad', firing: 'bad',
	cancelled: 'muted', canceled: 'muted', stopped: 'muted', ignored: 'muted', inactive: 'muted',
	pending: 'warn', queued: 'warn', building: 'warn', deploying: 'warn', releasing: 'warn',
	starting: 'warn', degraded: 'warn', unverified: 'warn', unresolved: 'warn', retrying: 'warn',
};

export function status(text) {
	const t = String(text || 'unknown');
	return h('span', { class: 'badge badge-' + (STATUS_KIND[t.toLowerCase()] || 'info') }, t);
}

const RTF = typeof Intl !== 'undefined' && Intl.RelativeTimeFormat
	? new Intl.RelativeTimeFormat('en', { numeric: 'auto' }) : null;

export function ago(ts) {
	const d = new Date(ts);
	if (Number.isNaN(d.getTime()))
		return '';
	const s = Math.round((d.getTime() - Date.now()) / 1000);
	const a = Math.abs(s);
	if (!RTF)
		return d.toISOString();
	if (a < 45)
		return RTF.format(s, 'second');
	if (a < 2700)
		return RTF.format(Math.round(s / 60), 'minute');
	if (a < 86400 * 1.5)
		return RTF.format(Math.round(s / 3600), 'hour');
	if (a < 86400 * 45)
		return RTF.format(Math.round(s / 86400), 'day');
	return d.toISOString().slice(0, 10);
}

export function time(ts) {
	if (!ts)
		return h('span', { class: 'muted' }, '—');
	const d = new Date(ts);
	return h('time', { datetime: ts, title: Number.isNaN(d.getTime()) ? ts : d.toUTCString() }, ago(ts));
}

export function bytes(n) {
	if (n === null || n === undefined || Number.isNaN(Number(n)))
		return '—';
	let v = Number(n);
	const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
	let i = 0;
	while (v >= 1024 && i < units.length - 1) {
		v /= 1024;
		i += 1;
	}
	return (i ? v.toFixed(v < 10 ? 1 : 0) : String(v)) + ' ' + units[i];
}

export function dl(pairs) {
	return h('dl', { class: 'kv' }, pairs.filter(Boolean).map(([k, v]) => [
		h('dt', {}, k),
		h('dd', {}, v === null || v === undefined || v === '' ? h('span', { class: 'muted' }, '—') : v)]));
}

// ----------------------------------------------------------------- toasts
function toastRoot() {
	let el = document.getElementById('toasts');
	if (!el) {
		el = h('div', { id: 'toasts', class: 'toasts' });
		document.body.append(el);
	}
	return el;
}

export function toast(message, { kind = 'info', requestId } = {}) {
	const t = h('div', { class: 'toast toast-' + kind, role: kind === 'error' ? 'alert' : 'status' },
		h('span', {}, message),
		requestId ? h('span', { class: 'toast-meta' }, ' · request id ', h('code', {}, requestId)) : null,
		h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', on: { click: () => t.remove() } }, '×'));
	toastRoot().append(t);
	setTimeout(() => t.remove(), kind === 'error' ? 15000 : 5000);
	return t;
}

export function toastError(err) {
	return toast(err && err.message ? err.message : String(err),
		{ kind: 'error', requestId: err && err.requestId });
}

// ---------------------------------------------------------------- buttons
// button('Deploy', async () => ..., { kind: 'primary', cap: 'deploy', ctx })
// is null when ctx.can(cap) is false: a viewer sees no write controls.
export function button(label, onClick, { kind = 'plain', cap, ctx, busy, type = 'button', title, icon } = {}) {
	if (cap && ctx && !ctx.can(cap))
		return null;
	const b = h('button', { type, class: ['btn', 'btn-' + kind], title }, icon || null, label);
	if (onClick) {
		b.addEventListener('click', async (ev) => {
			if (b.disabled)
				return;
			b.disabled = true;
			b.setAttribute('aria-busy', 'true');
			const text = b.textContent;
			if (busy)
				b.textContent = busy;
			try {
				await onClick(ev);
			} catch (e) {
				if (!(e && e.name === 'AbortError'))
					toastError(e);
			} finally {
				if (b.isConnected) {
					b.disabled = false;
					b.removeAttribute('aria-busy');
					if (busy)
						b.textContent = text;
				}
			}
		});
	}
	return b;
}

export function copy(text, label = 'Copy') {
	return button(label, async () => {
		const v = typeof text === 'function' ? await text() : text;
		await navigator.clipboard.writeText(v);
		toast('Copied', { kind: 'success' });
	}, { kind: 'small' });
}

// A secret shown masked until Reveal (which may fetch it: revealing needs
// write permission in the API, whose 403 then shows as a toast).
export function secret(value, { label = 'value' } = {}) {
	let shown = null;
	const out = h('code', { class: 'secret-value' }, '••••••••••••');
	const reveal = button('Reveal', async () => {
		if (shown === null) {
			shown = typeof value === 'function' ? await value() : value;
			replace(out, String(shown));
			reveal.textContent = 'Hide';
			reveal.setAttribute('aria-label', 'Hide ' + label);
		} else {
			shown = null;
			replace(out, '••••••••••••');
			reveal.textContent = 'Reveal';
			reveal.setAttribute('aria-label', 'Reveal ' + label);
		}
	}, { kind: 'small' });
	reveal.setAttribute('aria-label', 'Reveal ' + label);
	const cp = button('Copy', async () => {
		const v = shown !== null ? shown : (typeof value === 'function' ? await value() : value);
		await navigator.clipboard.writeText(String(v));
		toast('Copied', { kind: 'success' });
	}, { kind: 'small' });
	cp.setAttribute('aria-label', 'Copy ' + label);
	return h('span', { class: 'secret' }, out, reveal, cp);
}

// A select that saves itself when changed (a member's role, a user's role):
// disabled while saving, back to the old value with the API's message if the
// save is refused.  save(value) resolves to the value the API kept.
export function selectSaving({ label, value, options, save, done }) {
	let current = value;
	const sel = h('select', { 'aria-label': label, class: 'inline-select' },
		options.map(([v, l]) => h('option', { value: v, selected: v === value }, l)));
	sel.addEventListener('change', async () => {
		sel.disabled = true;
		try {
			current = await save(sel.value);
			sel.value = current;
			if (done)
				done(current);
		} catch (err) {
			sel.value = current;
			toastError(err);
		} finally {
			sel.disabled = false;
		}
	});
	return sel;
}

// ---------------------------------------------------------------- dialogs
export function dialog({ title, body, actions = [], onClose } = {}) {
	const id = uid('dlg');
	const el = h('dialog', { class: 'dialog', 'aria-labelledby': id },
		h('div', { class: 'dialog-head' },
			h('h2', { id }, title),
			h('button', { type: 'button', class: 'btn btn-small', 'aria-label': 'Close', on: { click: () => close() } }, '×')),
		h('div', { class: 'dialog-body' }, body),
		actions.length ? h('div', { class: 'dialog-actions' }, actions.filter(Boolean)) : null);
	function close() {
		if (el.open)
			el.close();
	}
	el.addEventListener('close', () => {
		el.remove();
		if (onClose)
			onClose();
	});
	document.body.append(el);
	el.showModal();
	return { el, close };
}

// confirm({ title, body, confirm: 'Delete', danger: true, typeToConfirm: 'my-app' }) -> Promise<bool>
export function confirm({ title = 'Are you sure?', body, confirm: label = 'Confirm', danger = true, typeToConfirm } = {}) {
	return new Promise((resolve) => {
		let result = false;
		const inputId = uid('confirm');
		const input = typeToConfirm ? h('input', { id: inputId, type: 'text', autocomplete: 'off', spellcheck: 'false' }) : null;
		const ok = h('button', { type: 'button', class: ['btn', danger ? 'btn-danger' : 'btn-primary'], disabled: !!typeToConfirm }, label);
		if (input)
			input.addEventListener('input', () => { ok.disabled = input.value !== typeToConfirm; });
		const d = dialog({
			title,
			body: [body ? h('p', {}, body) : null,
				input ? h('div', { class: 'field' },
					h('label', { for: inputId }, 'Type ', h('code', {}, typeToConfirm), ' to confirm'), input) : null],
			actions: [h('button', { type: 'button', class: 'btn btn-plain', on: { click: () => d.close() } }, 'Cancel'), ok],
			onClose: () => resolve(result),
		});
		ok.addEventListener('click', () => {
			result = true;
			d.close();
		});
		(input || ok).focus();
	});
}

// ------------------------------------------------------------------- form
// form({ fields, submit, initial, onSubmit, cancel }): labels on every
// input; an ApiError from onSubmit shows its message and request id above the
// form, and each details[].field next to its input (aria-invalid).
export function form({ fields, submit = 'Save', initial = {}, onSubmit, cancel, cancelLabel = 'Cancel', class: cls } = {}) {
	const top = h('div', { class: 'form-error' });
	const inputs = new Map();
	const errs = new Map();
	const rows = fields.filter(Boolean).map((f) => {
		const id = uid('f-' + f.name);
		const helpId = f.help ? id + '-help' : null;
		const errId = id + '-err';
		const init = initial[f.name] !== undefined ? initial[f.name] : f.value;
		let input;
		if (f.type === 'select') {
			input = h('select', { id, name: f.name, required: !!f.required },
				(f.options || []).map(([v, l]) => h('option', { value: v, selected: String(init) === String(v) }, l)));
		} else if (f.type === 'textarea') {
			input = h('textarea', { id, name: f.name, rows: f.rows || 6, required: !!f.required, placeholder: f.placeholder, spellcheck: 'false' });
			if (init !== undefined && init !== null)
				input.value = typeof init === 'object' ? JSON.stringify(init, null, 2) : String(init);
		} else if (f.type === 'checkbox') {
			input = h('input', { id, name: f.name, type: 'checkbox', checked: !!init });
		} else {
			input = h('input', {
				id, name: f.name, type: f.type || 'text', required: !!f.required, placeholder: f.placeholder,
				min: f.min, max: f.max, step: f.step, autocomplete: f.autocomplete || (f.type === 'password' ? 'new-password' : 'off'),
				pattern: f.pattern, inputmode: f.inputmode, spellcheck: f.type === 'text' || !f.type ? 'false' : null,
			});
			if (init !== undefined && init !== null)
				input.value = String(init);
		}
		input.setAttribute('aria-describedby', [helpId, errId].filter(Boolean).join(' '));
		inputs.set(f.name, { f, input });
		const err = h('p', { id: errId, class: 'field-error' });
		errs.set(f.name, err);
		if (f.type === 'hidden')
			return input;
		if (f.type === 'checkbox') {
			return h('div', { class: 'field field-check' }, input, h('label', { for: id }, f.label),
				f.help ? h('p', { id: helpId, class: 'help' }, f.help) : null, err);
		}
		return h('div', { class: 'field' },
			h('div', { class: 'label-row' }, h('label', { for: id }, f.label),
				f.required ? h('span', { class: 'req', 'aria-hidden': 'true' }, '*') : null),
			input, f.help ? h('p', { id: helpId, class: 'help' }, f.help) : null, err);
	});

	function values() {
		const out = {};
		for (const [name, { f, input }] of inputs) {
			let v;
			if (f.type === 'checkbox') {
				v = input.checked;
			} else if (f.type === 'number') {
				if (input.value === '')
					continue;
				v = Number(input.value);
			} else {
				v = input.value;
				if (v === '' && !f.keepEmpty)
					continue;
			}
			out[name] = f.parse ? f.parse(v) : v;
		}
		return out;
	}

	function clearErrors() {
		clear(top);
		for (const [name, err] of errs) {
			clear(err);
			inputs.get(name).input.removeAttribute('aria-invalid');
		}
	}

	const submitBtn = h('button', { type: 'submit', class: 'btn btn-primary' }, submit);
	const el = h('form', { class: ['form', cls] , novalidate: false },
		top, rows,
		h('div', { class: 'form-actions' }, submitBtn,
			cancel ? h('button', { type: 'button', class: 'btn btn-plain', on: { click: cancel } }, cancelLabel) : null));
	el.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		if (submitBtn.disabled)
			return;
		clearErrors();
		let vals;
		try {
			vals = values();
		} catch (e) {
			replace(top, showError(e, { title: 'Check the form' }));
			return;
		}
		submitBtn.disabled = true;
		submitBtn.setAttribute('aria-busy', 'true');
		try {
			await onSubmit(vals, el);
		} catch (e) {
			replace(top, showError(e, { title: e && e.status === 403 ? 'Not allowed' : 'Could not save' }));
			let first = null;
			for (const d of (e && e.details) || []) {
				const key = String(d.field || '').split(/[.[]/)[0];
				const slot = errs.get(d.field) || errs.get(key);
				if (slot) {
					slot.textContent = d.message;
					const inp = inputs.get(errs.get(d.field) ? d.field : key).input;
					inp.setAttribute('aria-invalid', 'true');
					first = first || inp;
				}
			}
			(first || top.firstChild || el).focus && (first || top.querySelector('.error-message') || el).focus();
		} finally {
			submitBtn.disabled = false;
			submitBtn.removeAttribute('aria-busy');
		}
	});
	el.values = values;
	el.input = (name) => (inputs.get(name) || {}).input;
	return el;
}

// --------------------------------------------------------------- the list
// listView({ path, query, columns, rowHref, empty, limit }): one table over
// the API's keyset cursors: the first page at once, "Load more" for the next.
// Rows of a page are built off-document and added in one go, so a project
// of hundreds of applications renders without a layout per row.
// Options for lists that are not a table of API rows:
//   load: async cursor => ({ items, next })   another paged source (bucket objects)
//   render: item => node                       items as cards in a <ul> (no columns)
export function listView({ path, query = {}, columns = [], rowHref, empty: emptyOpt = {}, limit = 50, caption, onRows, load: loader, render, signal = routeSignal } = {}) {
	const thead = h('thead', {}, h('tr', {}, columns.map(c => h('th', { scope: 'col', class: c.class }, c.label))));
	const tbody = render ? h('ul', { class: 'cards', 'aria-label': caption || null }) : h('tbody');
	const table = render ? tbody
		: h('table', { class: 'table' }, caption ? h('caption', { class: 'sr-only' }, caption) : null, thead, tbody);
	const wrap = h('div', { class: render ? 'cards-wrap' : 'table-wrap' }, table);
	const stateEl = h('div', { class: 'list-state' });
	const more = h('button', { type: 'button', class: 'btn btn-plain', hidden: true }, 'Load more');
	const countEl = h('p', { class: 'list-count muted', 'aria-live': 'polite' });
	const el = h('div', { class: 'list' }, stateEl, wrap, h('div', { class: 'list-foot' }, countEl, more));
	let next = null;
	let total = 0;
	const rows = [];

	function row(item) {
		if (render)
			return h('li', { class: 'card' }, render(item));
		const link = rowHref ? rowHref(item) : null;
		return h('tr', {}, columns.map((c, i) => {
			let v = c.value(item);
			if (v === null || v === undefined || v === '')
				v = h('span', { class: 'muted' }, '—');
			if (i === 0 && link)
				v = h('a', { href: href(link) }, v);
			return i === 0 ? h('th', { scope: 'row', class: c.class }, v) : h('td', { class: c.class }, v);
		}));
	}

	async function load(first) {
		more.disabled = true;
		if (first)
			replace(stateEl, loading());
		try {
			let page;
			if (loader) {
				page = await loader(next);
			} else {
				const q = { ...query, limit };
				if (next)
					q.cursor = next;
				page = await api.page(path, q, { signal });
			}
			next = page.next;
			const frag = document.createDocumentFragment();
			for (const item of page.items) {
				frag.append(row(item));
				rows.push(item);
			}
			tbody.append(frag);
			total += page.items.length;
			clear(stateEl);
			wrap.hidden = total === 0;
			if (total === 0)
				replace(stateEl, empty(emptyOpt.text || 'Nothing here yet.', emptyOpt.action || null));
			countEl.textContent = total ? (next ? 'Showing ' + total + ' so far' : total + (total === 1 ? ' item' : ' items')) : '';
			more.hidden = !next;
			if (onRows)
				onRows(page.items, rows);
		} catch (e) {
			if (e && e.name === 'AbortError')
				return;
			replace(stateEl, showError(e));
			if (first)
				wrap.hidden = true;
		} finally {
			more.disabled = false;
		}
	}

	more.addEventListener('click', () => load(false));
	el.reload = () => {
		next = null;
		total = 0;
		rows.length = 0;
		clear(tbody);
		return load(true);
	};
	el.rows = rows;
	el.loaded = track(load(true));
	return el;
}

// poll(load, done, { signal, interval, onEach }): calls load() until
// done(value) is true; onEach(value) after every call.  Stops (AbortError)
// when signal aborts: pages pass ctx.signal, so leaving the page stops it.
export async function poll(load, done, { signal = routeSignal, interval = 1500, onEach } = {}) {
	for (;;) {
		if (signal && signal.aborted)
			throw new DOMException('aborted', 'AbortError');
		const v = await load();
		if (onEach)
			onEach(v);
		if (done(v))
			return v;
		await new Promise((resolve, reject) => {
			const stop = () => {
				clearTimeout(t);
				reject(new DOMException('aborted', 'AbortError'));
			};
			const t = setTimeout(() => {
				if (signal)
					signal.removeEventListener('abort', stop);
				resolve();
			}, interval);
			if (signal)
				signal.addEventListener('abort', stop, { once: true });
		});
	}
}

const JOB_DONE = new Set(['succeeded', 'failed', 'cancelled']);

// waitJob(id | {id}) -> the job object once it is terminal (GET /jobs/:id).
export function waitJob(job, opts = {}) {
	const id = typeof job === 'string' ? job : job.id;
	const signal = opts.signal || routeSignal;
	return poll(() => api.get('/jobs/' + encodeURIComponent(id), undefined, { signal }),
		j => JOB_DONE.has(String(j.status)), opts);
}

// Fetch every page of a small list (pickers: servers, environments).
export async function all(path, query = {}, max = 1000) {
	const out = [];
	let next = null;
	do {
		const page = await api.page(path, { ...query, limit: 200, cursor: next || undefined });
		out.push(...page.items);
		next = page.next;
	} while (next && out.length < max);
	return out;
}
