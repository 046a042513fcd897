// tests/browser/reporter.mjs - node --test's reporter for the browser tests,
// in the API tests' format (tests/api/run.py): "ok   file::name (1.2s)",
// "skip file::name: reason", "FAIL file::name: message" with the error
// below it, what the files print, and at the end one
// "browser: N passed, M failed" line (tests/run.sh count() reads it).  A
// file that ends in error without a failed test of its own (it did not
// import, an after() hook threw) counts as one failure.
import path from 'node:path';

export default async function* reporter(source) {
	let passed = 0;
	let failed = 0;
	let skipped = 0;
	const failedIn = new Set();
	for await (const ev of source) {
		const d = ev.data || {};
		const file = d.file ? path.basename(d.file) : '?';
		const isFile = d.file && d.name === d.file;
		switch (ev.type) {
		case 'test:stdout':
		case 'test:stderr':
			yield d.message;
			break;
		case 'test:pass':
			if (isFile || d.details?.type === 'suite') break;
			if (d.skip !== undefined || d.todo !== undefined) {
				skipped++;
				yield `skip ${file}::${d.name}: ${d.skip ?? d.todo}\n`;
			} else {
				passed++;
				yield `ok   ${file}::${d.name} (${((d.details?.duration_ms || 0) / 1000).toFixed(1)}s)\n`;
			}
			break;
		case 'test:fail': {
			if (d.details?.type === 'suite') break;
			const err = d.details?.error;
			if (isFile) {
				if (failedIn.has(file)) break;
				failed++;
				const why = err?.failureType === 'testTimeoutFailure' ? `timed out (${err?.message || ''})`
					: (err?.cause?.message || err?.message || 'see its output above');
				yield `FAIL ${file}: the file ended in error: ${why}\n`;
				break;
			}
			failed++;
			failedIn.add(file);
			// The test's own error, not node's wrapper of it.
			const cause = err?.cause ?? err;
			const msg = cause?.message ?? String(cause);
			yield `FAIL ${file}::${d.name}: ${msg.split('\n')[0]}\n`;
			// The stack without the message it starts with.
			let stack = cause?.stack || '';
			const head = `${cause?.name}: ${msg}`;
			stack = stack.startsWith(head) ? stack.slice(head.length) : stack.split('\n').slice(1).join('\n');
			const rest = [msg.split('\n').slice(1).join('\n'),
				stack.split('\n').filter((l) => /^\s+at /.test(l)).slice(0, 5).join('\n')].filter(Boolean).join('\n');
			if (rest) yield `${rest.replace(/^/gm, '    ')}\n`;
			break;
		}
		case 'test:diagnostic':
			// A test's own notes (t.diagnostic); node's totals have no file.
			if (d.file) yield `# ${file}: ${d.message}\n`;
			break;
		default:
			break;
		}
	}
	if (skipped) yield `browser: ${skipped} skipped (reasons above)\n`;
	yield `browser: ${passed} passed, ${failed} failed\n`;
}
