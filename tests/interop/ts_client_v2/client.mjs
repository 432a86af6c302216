// Drive an MCP server with the official TypeScript SDK v2 client (@modelcontextprotocol/client)
// and print a JSON summary.
//
// Usage: node client.mjs URL MODE
//
// MODE is the client's `versionNegotiation.mode`: `legacy` (the initialize handshake, the v2
// client's default), `auto` (a `server/discover` probe first, falling back to initialize) or a
// revision such as `2026-07-28`, which becomes `{ pin: '2026-07-28' }` (that revision or nothing).
//
// Two connections (Client + StreamableHTTPClientTransport): an anonymous one that lists the tools
// and calls get_item (twice: good and bad arguments), whoami and chat (with an `onprogress`
// handler, recording each update and whether the result had arrived when it came), and one that
// sends `Authorization: Bearer demo-token` on every request (`requestInit.headers`) and calls
// whoami. The summary goes to stdout as one JSON document; tests/interop/test_typescript_client_v2.py
// asserts on it. Any exception is printed to stderr and the exit status is 1.
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

const [url, modeArg] = process.argv.slice(2);
if (!url || !modeArg) {
  console.error('usage: node client.mjs URL legacy|auto|REVISION');
  process.exit(2);
}
const mode = modeArg === 'legacy' || modeArg === 'auto' ? modeArg : { pin: modeArg };

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
  const client = new Client(
    { name: 'mcp-middleware-interop-ts-v2', version: '1.0.0' },
    { versionNegotiation: { mode } },
  );
  await client.connect(transport);
  return { client, transport };
}

async function close({ client, transport }) {
  await transport.terminateSession().catch(() => undefined);
  await client.close();
}

async function main() {
  const summary = { mode: modeArg };

  const anon = await connect(null);
  try {
    summary.protocolVersion = anon.client.getNegotiatedProtocolVersion() ?? null;
    summary.transportProtocolVersion = anon.transport.protocolVersion ?? null;
    summary.era = anon.client.getProtocolEra() ?? null;
    summary.sessionId = anon.transport.sessionId ?? null;
    summary.serverVersion = anon.client.getServerVersion() ?? null;
    summary.serverCapabilities = anon.client.getServerCapabilities() ?? null;
    summary.discover = anon.client.getDiscoverResult() ?? null;

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
    let resultArrived = false;
    const chat = await anon.client.callTool(
      { name: 'chat', arguments: { prompt: 'stream please', tokens: 5 } },
      {
        onprogress: (p) =>
          progress.push({
            progress: p.progress,
            total: p.total ?? null,
            message: p.message ?? null,
            afterResult: resultArrived,
          }),
      },
    );
    resultArrived = true;
    summary.chat = { ...summarize(chat), progress };
  } finally {
    await close(anon);
  }

  const authed = await connect({ Authorization: 'Bearer demo-token' });
  try {
    summary.whoamiWithToken = summarize(await authed.client.callTool({ name: 'whoami', arguments: {} }));
  } finally {
    await close(authed);
  }

  process.stdout.write(JSON.stringify(summary) + '\n');
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : String(error));
  process.exit(1);
});
