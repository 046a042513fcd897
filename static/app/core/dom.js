// The one DOM builder of the dashboard.  Every string becomes a text node:
// there is deliberately no way to insert markup, so nothing a user typed
// (an application's name, a log line, a stack frame) is ever parsed as HTML.

// URLs in href/src/action come from the API (an application's URL, a
// presigned link): only http(s), mailto and paths of this site are set; a
// javascript: or data: URL is dropped (the CSP would refuse to run it too).
const URL_ATTRS = new Set(['href', 'src', 'action', 'formaction', 'xlink:href']);
const SAFE_URL = /^(https?:|mailto:|blob:|[#/?.]|[^:]*$)/i;

const BOOL = new Set(['disabled', 'hidden', 'required', 'checked', 'selected', 'readonly',
	'multiple', 'open', 'autofocus', 'novalidate', 'inert']);

function add(el, child) {
	if (child === null || child === undefined || child === false || child === true)
		return;
	if (Array.isArray(child)) {
		for (const c of child)
			add(el, c);
	} else if (child instanceof Node) {
		el.append(child);
	} else {
		el.append(document.createTextNode(String(child)));
	}
}

// h('button', { class: 'btn', on: { click: fn } }, 'Deploy')
export function h(tag, props, ...children) {
	const el = document.createElement(tag);
	if (props) {
		for (const [k, v] of Object.entries(props)) {
			if (v === undefined || v === null)
				continue;
			if (k === 'class') {
				el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
			} else if (k === 'on') {
				for (const [ev, fn] of Object.entries(v))
					el.addEventListener(ev, fn);
			} else if (k === 'dataset') {
				Object.assign(el.dataset, v);
			} else if (k === 'text') {
				el.textContent = String(v);
			} else if (k === 'value') {
				el.value = v;
			} else if (k === 'for') {
				el.htmlFor = v;
			} else if (BOOL.has(k)) {
				if (v)
					el.setAttribute(k, '');
				if (k === 'checked' || k === 'selected')
					el[k] = !!v;
			} else if (URL_ATTRS.has(k) && !SAFE_URL.test(String(v).trim())) {
				continue;
			} else if (k === 'style' || k.startsWith('on')) {
				throw new Error('h(): inline ' + k + ' is not allowed (CSP); use a class or "on"');
			} else {
				el.setAttribute(k, v === true ? '' : String(v));
			}
		}
	}
	add(el, children);
	return el;
}

export function clear(el) {
	while (el.firstChild)
		el.firstChild.remove();
	return el;
}

export function replace(el, ...children) {
	clear(el);
	add(el, children);
	return el;
}

let seq = 0;
// A fresh id for label/aria wiring.
export function uid(prefix = 'id') {
	seq += 1;
	return prefix + '-' + seq;
}
