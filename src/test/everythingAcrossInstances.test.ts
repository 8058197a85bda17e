/**
 * The everything surface on three instances: the session is hosted on A, tool calls land on B, and
 * everything the client answers or notifies (sampling and elicitation answers, cancellations) is
 * POSTed to C. Each feature has to cross Redis to work.
 */
import type { CallToolResult, ListResourcesResult } from '@modelcontextprotocol/client';
import { startCluster, TOKENS, type Cluster } from './cluster.js';
import { connectClient, type Picker } from './mcpClient.js';

const text = (r: unknown) => ((r as CallToolResult).content[0] as { text: string }).text;

describe('the everything surface across three instances', () => {
  let c: Cluster;
  let A: string, B: string, C: string;
  const seen: Record<string, string[]> = {};
  beforeAll(async () => {
    c = await startCluster(3);
    [A, B, C] = c.instances.map((i) => i.url) as [string, string, string];
  });
  afterAll(() => c.close());

  /** initialize → A; client answers and notifications → C; every other request → B. */
  const picker: Picker = ({ method, body }) => {
    let target = B;
    if (body.includes('"method":"initialize"')) target = A;
    else if (method === 'POST' && (!body.includes('"method"') || body.includes('"method":"notifications/'))) target = C;
    (seen[target] ??= []).push(body);
    return target;
  };

  async function connect() {
    return connectClient(A, TOKENS.alice, picker, { sampling: {}, elicitation: { form: {} } });
  }
  async function client() {
    return (await connect()).client;
  }

  test('sampling: the request rides the tool call stream on B, the answer posted to C reaches the tool on A', async () => {
    const cl = await client();
    cl.setRequestHandler('sampling/createMessage', async (req) => ({
      role: 'assistant',
      model: 'test-model',
      content: { type: 'text', text: `sampled: ${(req.params.messages[0]!.content as { text: string }).text}` },
    }));
    const result = await cl.callTool({ name: 'sampleLLM', arguments: { prompt: 'across', maxTokens: 5 } });
    expect(text(result)).toContain('sampled: across');
    // The client's answer to the sampling request (a JSON-RPC response) went to C.
    expect(seen[C]!.some((b) => !b.includes('"method"') && b.includes('sampled: across'))).toBe(true);
    expect(c.instances[0]!.routing.hostedCount).toBeGreaterThan(0);
    await cl.close();
  });

  test('elicitation: accept and decline answered through C', async () => {
    const cl = await client();
    let action: 'accept' | 'decline' = 'accept';
    cl.setRequestHandler('elicitation/create', async () =>
      action === 'accept'
        ? { action, content: { name: 'Ada', email: 'ada@example.com', age: 36, role: 'engineer', subscribe: true } }
        : { action },
    );
    expect(text(await cl.callTool({ name: 'elicitInput', arguments: {} }))).toContain('"name":"Ada"');
    action = 'decline';
    expect(text(await cl.callTool({ name: 'elicitInput', arguments: {} }))).toMatch(/decline/i);
    await cl.close();
  });

  test('the per-session cap on pending server→client requests holds for multi-round-trip tools', async () => {
    // The cap is the host's: this session is hosted on an instance allowing one pending request.
    const D = await c.start({ MAX_PENDING_CLIENT_REQUESTS_PER_SESSION: '1' });
    const { client: cl } = await connectClient(D.url, TOKENS.alice, undefined, { sampling: {} });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let asked!: () => void;
    const firstAsked = new Promise<void>((r) => (asked = r));
    cl.setRequestHandler('sampling/createMessage', async () => {
      asked();
      await gate;
      return { role: 'assistant', model: 'test-model', content: { type: 'text', text: 'released' } };
    });
    const first = cl.callTool({ name: 'sampleLLM', arguments: { prompt: 'one' } });
    await firstAsked;
    const second = await cl.callTool({ name: 'sampleLLM', arguments: { prompt: 'two' } });
    expect(second.isError).toBe(true);
    expect(text(second)).toContain('too many pending server-to-client requests');
    release();
    expect(text(await first)).toContain('released');
    await cl.close();
  });

  test('ping both ways: client → server on B, server → client answered on C', async () => {
    const cl = await client();
    await expect(cl.ping()).resolves.toEqual({});
    expect(text(await cl.callTool({ name: 'pingClient', arguments: {} }))).toMatch(/ping/i);
    await cl.close();
  });

  test('logging/setLevel through B filters the tool logs of the session hosted on A', async () => {
    const cl = await client();
    const logs: string[] = [];
    cl.setNotificationHandler('notifications/message', (n) => void logs.push(String(n.params.data)));
    await cl.setLoggingLevel('warning');
    await cl.callTool({ name: 'test_tool_with_logging', arguments: {} });
    expect(logs).toEqual([]);
    await cl.setLoggingLevel('debug');
    await cl.callTool({ name: 'test_tool_with_logging', arguments: {} });
    expect(logs).toHaveLength(3);
    await cl.close();
  });

  test('resources (10 pages), templates, prompts and completions answered through B', async () => {
    const cl = await client();
    let cursor: string | undefined;
    let pages = 0;
    let count = 0;
    do {
      // One page per request: listResources() without a cursor would fetch them all.
      const page: ListResourcesResult = await cl.request({
        method: 'resources/list',
        params: cursor ? { cursor } : {},
      });
      pages++;
      count += page.resources.filter((r) => r.uri.startsWith('test://static/resource/')).length;
      cursor = page.nextCursor;
    } while (cursor);
    expect(count).toBe(100);
    expect(pages).toBeGreaterThanOrEqual(10);
    const read = await cl.readResource({ uri: 'test://static/resource/2' });
    expect(read.contents[0]).toHaveProperty('blob');
    const prompt = await cl.getPrompt({ name: 'complex_prompt', arguments: { temperature: '0.7', style: 'formal' } });
    expect(prompt.messages.length).toBeGreaterThan(0);
    const completion = await cl.complete({
      ref: { type: 'ref/resource', uri: 'test://static/resource/{id}' },
      argument: { name: 'id', value: '1' },
    });
    expect(completion.completion.values.length).toBeGreaterThan(0);
    await cl.close();
  });

  test('a progress-reporting call on B is cancelled by a notification posted to C', async () => {
    const { client: cl, transport } = await connect();
    const sid = transport.sessionId!;
    const headers = {
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      Authorization: `Bearer ${TOKENS.alice}`,
      'Mcp-Session-Id': sid,
    };
    const call = await fetch(`${B}/mcp`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 'long',
        method: 'tools/call',
        params: {
          name: 'longRunningOperation',
          arguments: { duration: 30, steps: 100 },
          _meta: { progressToken: 'p' },
        },
      }),
    });
    const reader = call.body!.pipeThrough(new TextDecoderStream()).getReader();
    let events = (await reader.read()).value ?? ''; // first progress: the call runs on A
    const cancel = await fetch(`${C}/mcp`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: 'long', reason: 'test' },
      }),
    });
    expect(cancel.status).toBe(202);
    // The stream ends without a result (spec: no response to a cancelled request), long before 30 s.
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) events += chunk.value;
    expect(events).toContain('notifications/progress');
    expect(events).not.toContain('"result"');
    await cl.close();
  });
});
