// sentry_node.js - drives the unmodified @sentry/node SDK (pinned in
// tests/tools/package.json; tests/run.sh installs it) the way an application
// uses it: init with a DSN, scope data, captured exceptions and messages, and
// an uncaught exception that ends the process (the SDK's default
// onUncaughtException integration reports it, then exits with status 1).
//
//   node tests/lib/sentry_node.js '<json config>'
//
// Config: {dsn, ca_certs? (a PEM file the SDK trusts: the stack's own
// certificate), release?, environment?, server_name?, user?, tags?,
// breadcrumbs?: [message...], actions: [...]} where an action is
//   {do: "exception", type: "TypeError", fn: "chargeCard", sites: N}
//       N occurrences of one exception: function fn (generated source) has N
//       throw statements on N different lines; each is reached once and
//       captured with Sentry.captureException
//   {do: "message", text, level?}     Sentry.captureMessage
//   {do: "crash", type, fn}           fn throws outside any try: uncaught
// A crash comes last; the other actions are flushed before it.
//
// Prints one JSON line per event the SDK is about to send ({"event_id",
// "level", "kind"}: from beforeSend, so the caller knows the ids), then
// {"flushed": true|false} after the flush (not after a crash: the process
// ends with the SDK's exit).
'use strict';
const fs = require('fs');
const path = require('path');
const vm = require('vm');
const Sentry = require(path.join(__dirname, '..', 'tools', 'node_modules', '@sentry', 'node'));

const cfg = JSON.parse(process.argv[2]);

function out(o) {
  process.stdout.write(JSON.stringify(o) + '\n');
}

// The application code: one function per (fn, type) whose Nth throw sits on
// its own line, compiled under a fixed file name beside this script, so that
// every run (and the regression test's later run) gives the frames the same
// file, module and function; only the line numbers differ between sites.
function generated(fn, type, sites) {
  const lines = [`function ${fn}(site) {`, '  switch (site) {'];
  for (let i = 0; i < sites; i++) {
    lines.push(`    case ${i}:`);
    lines.push(`      throw new ${type}('payment declined for order ' + (1000 + site));`);
  }
  lines.push(`    default:`);
  lines.push(`      throw new ${type}('payment declined for order ' + (1000 + site));`);
  lines.push('  }', '}', fn + ';');
  return vm.runInThisContext(lines.join('\n'), {filename: path.join(__dirname, 'shop', fn + '.js')});
}

Sentry.init({
  dsn: cfg.dsn,
  release: cfg.release,
  environment: cfg.environment,
  serverName: cfg.server_name,
  transportOptions: cfg.ca_certs ? {caCerts: fs.readFileSync(cfg.ca_certs)} : undefined,
  beforeSend(event) {
    // A message event may carry exception values too (a synthetic stack
    // trace, no type): its kind is "message" unless an exception type is set.
    const ex = event.exception && event.exception.values;
    const last = ex && ex.length ? ex[ex.length - 1] : null;
    out({event_id: event.event_id, level: event.level,
      kind: last && last.type ? last.type : 'message'});
    return event;
  },
});
if (cfg.user) Sentry.setUser(cfg.user);
for (const [k, v] of Object.entries(cfg.tags || {})) Sentry.setTag(k, v);
for (const m of cfg.breadcrumbs || []) Sentry.addBreadcrumb({category: 'shop', message: m, level: 'info'});

async function main() {
  let crash = null;
  for (const a of cfg.actions) {
    if (a.do === 'exception') {
      const f = generated(a.fn, a.type, a.sites || 1);
      for (let i = 0; i < (a.sites || 1); i++) {
        try {
          f(i);
        } catch (e) {
          Sentry.captureException(e);
        }
      }
    } else if (a.do === 'message') {
      Sentry.captureMessage(a.text, a.level || 'info');
    } else if (a.do === 'crash') {
      crash = a;
    }
  }
  const flushed = await Sentry.flush(10000);
  if (!crash) {
    out({flushed});
    await Sentry.close(2000);
    return;
  }
  const f = generated(crash.fn, crash.type, 1);
  setTimeout(() => f(0), 0);
}

main();
