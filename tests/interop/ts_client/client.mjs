// Drive an MCP server with the official TypeScript SDK client and print a JSON summary.
//
// Usage: node client.mjs URL
//        node client.mjs URL TOOL...
//
// With tool names after the URL: one connection lists the tools and calls each named one with no
// arguments; the summary is `{"calls": {name: result}}`, where a result the SDK refused is
// `{"threw": message}` (it checks structuredContent against the tool's outputSchema, formats too).
//
// Two connections (Client + StreamableHTTPClientTransport): an anonymous one that lists the tools and
// calls get_item, whoami and chat (with a progress handler), and one that sends
// `Authorization: Bearer demo-token` on every request (`requestInit.headers`) and calls whoami.
// The summary goes to stdout as one JSON document; tests/interop/test_typescript_client.py asserts
// on it. Any exception is printed to stderr and the exit status is 1.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';

const url = process.argv[2];
if (!url) {
  console.error('usage: node client.mjs URL');
  process.exit(2);
}

const textOf = (result) =>
  (result.content ?? [])
    .filter((block) => block.type === 'text')
    .map((block) => block.text)
    .join('');

const summarize = (result) => ({
  isError: result.isError === true,
  text: textOf(result),
  structuredContent: result.structuredContent ?? null,
});

async function connect(headers) {
  const transport = new StreamableHTTPClientTransport(new URL(url), headers ? { requestInit: { headers } } : {});
  const client = new Client({ name: 'mcp-middleware-interop-ts', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}

async function callEach(names) {
  const calls = {};
  const { client, transport } = await connect(null);
  try {
    await client.listTools(); // primes the outputSchema validators
    for (const name of names) {
      try {
        calls[name] = summarize(await client.callTool({ name, arguments: {} }));
      } catch (error) {
        calls[name] = { threw: String(error && error.message ? error.message : error) };
      }
    }
  } finally {
    await transport.terminateSession().catch(() => undefined);
    await client.close();
  }
  process.stdout.write(JSON.stringify({ calls }) + '\n');
}

async function main() {
  if (process.argv.length > 3) {
    await callEach(process.argv.slice(3));
    return;
  }
  const summary = {};

  const anon = await connect(null);
  try {
    summary.protocolVersion = anon.transport.protocolVersion ?? null;
    summary.sessionId = anon.transport.sessionId ?? null;
    summary.serverVersion = anon.client.getServerVersion() ?? null;
    summary.serverCapabilities = anon.client.getServerCapabilities() ?? null;

    // listTools also primes the client's outputSchema validators: from here on the SDK itself
    // rejects a structuredContent that does not match the tool's outputSchema.
    const listing = await anon.client.listTools();
    summary.tools = listing.tools.map((tool) => ({
      name: tool.name,
      description: tool.description ?? null,
      inputSchemaType: tool.inputSchema?.type ?? null,
      hasOutputSchema: tool.outputSchema !== undefined,
      annotations: tool.annotations ?? null,
    }));

    summary.getItem = summarize(await anon.client.callTool({ name: 'get_item', arguments: { item_id: 1 } }));
    summary.getItemBadArguments = summarize(
      await anon.client.callTool({ name: 'get_item', arguments: { item_id: 'abc' } }),
    );
    summary.whoamiAnonymous = summarize(await anon.client.callTool({ name: 'whoami', arguments: {} }));

    const progress = [];
    const chat = await anon.client.callTool(
      { name: 'chat', arguments: { prompt: 'stream please', tokens: 5 } },
      CallToolResultSchema,
      { onprogress: (p) => progress.push({ progress: p.progress, total: p.total ?? null, message: p.message ?? null }) },
    );
    summary.chat = { ...summarize(chat), progress };
  } finally {
    await anon.transport.terminateSession().catch(() => undefined);
    await anon.client.close();
  }

  const authed = await connect({ Authorization: 'Bearer demo-token' });
  try {
    summary.whoamiWithToken = summarize(await authed.client.callTool({ name: 'whoami', arguments: {} }));
  } finally {
    await authed.transport.terminateSession().catch(() => undefined);
    await authed.client.close();
  }

  process.stdout.write(JSON.stringify(summary) + '\n');
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : String(error));
  process.exit(1);
});
