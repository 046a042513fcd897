// mcp_client.mjs - the official MCP TypeScript SDK client (@modelcontextprotocol/sdk,
// pinned in tests/tools/package.json; unmodified) for tests/api/test_mcp.py.
//
//   node tests/lib/mcp_client.mjs '<json config>'
//
// Config: {url, headers (sent with every request, e.g. {"x-lnchr-key": ...})}.
// Connects (Client + StreamableHTTPClientTransport, the headers in
// requestInit) and prints one JSON line: {"event":"connected","server":...,
// "protocol":...,"capabilities":...} or {"event":"error","message":...,"code":...}.
// Then reads one JSON command per stdin line and prints one JSON line per
// command: {"ok":true,"result":...} or {"ok":false,"error":{message,code,data}}.
// Commands: {"op":"listTools"}, {"op":"callTool","name":...,"arguments":{...}},
// {"op":"listResources"}, {"op":"listResourceTemplates"}, {"op":"readResource","uri":...},
// {"op":"listPrompts"}, {"op":"getPrompt","name":...,"arguments":{...}}, {"op":"ping"}.
// Ends at end of input (closing the transport).
// TLS: the stack's certificate through NODE_EXTRA_CA_CERTS (set by the test).
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const sdk = path.join(here, '..', 'tools', 'node_modules', '@modelcontextprotocol', 'sdk', 'dist', 'esm');
const { Client } = await import(pathToFileURL(path.join(sdk, 'client', 'index.js')).href);
const { StreamableHTTPClientTransport } = await import(
  pathToFileURL(path.join(sdk, 'client', 'streamableHttp.js')).href);

const cfg = JSON.parse(process.argv[2]);

function out(o) {
  return new Promise((resolve) => process.stdout.write(JSON.stringify(o) + '\n', resolve));
}

function failure(e) {
  return { message: String(e && e.message || e), code: e && e.code, data: e && e.data };
}

const client = new Client({ name: 'launcher-tests', version: '1.0.0' });
const transport = new StreamableHTTPClientTransport(new URL(cfg.url), {
  requestInit: { headers: cfg.headers || {} },
});
try {
  await client.connect(transport);
} catch (e) {
  await out({ event: 'error', ...failure(e) });
  process.exit(0);
}
await out({
  event: 'connected',
  server: client.getServerVersion(),
  protocol: transport.protocolVersion,
  session: transport.sessionId || null,
  capabilities: client.getServerCapabilities(),
  instructions: client.getInstructions(),
});

const ops = {
  ping: () => client.ping(),
  listTools: () => client.listTools(),
  callTool: (c) => client.callTool({ name: c.name, arguments: c.arguments || {} }),
  listResources: () => client.listResources(),
  listResourceTemplates: () => client.listResourceTemplates(),
  readResource: (c) => client.readResource({ uri: c.uri }),
  listPrompts: () => client.listPrompts(),
  getPrompt: (c) => client.getPrompt({ name: c.name, arguments: c.arguments || {} }),
};

const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  const c = JSON.parse(line);
  try {
    await out({ ok: true, result: await ops[c.op](c) });
  } catch (e) {
    await out({ ok: false, error: failure(e) });
  }
}
await client.close();
process.exit(0);
