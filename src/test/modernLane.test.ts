/**
 * The 2026-07-28 lane across two instances, with the SDK v2 client in each negotiation mode:
 * every HTTP request goes to the other instance than the one before (a per-request round-robin
 * balancer), so nothing may depend on which instance answered the previous request. Then the
 * multi-round-trip retry that lands on the other instance, a `subscriptions/listen` stream fed by
 * the other instance, and the guards and error answers of this lane.
 */
import { EventEmitter, once } from 'node:events';
import {
  Client,
  StreamableHTTPClientTransport,
  type ClientOptions,
  type ElicitResult,
} from '@modelcontextprotocol/client';
import { sessionOwnerKey } from '../redis/keys.js';
import { startCluster, TOKENS, type Cluster } from './cluster.js';
import { balancedFetch, type Picker } from './mcpClient.js';
import { modernPost, MODERN_VERSION } from './modernRequest.js';

const text = (r: { content?: unknown }) => (r.content as Array<{ text?: string }>)[0]?.text ?? '';

let c: Cluster;
let A: string, B: string;
beforeAll(async () => {
  c = await startCluster(2, { RESOURCE_UPDATE_INTERVAL_MS: '0' });
  [A, B] = c.instances.map((i) => i.url) as [string, string];
});
afterAll(() => c.close());

/** Alternates A, B, A, … per HTTP request, and remembers which instance got which body. */
function alternating(): Picker & { log: Array<{ target: string; body: string }> } {
  const log: Array<{ target: string; body: string }> = [];
  let i = 0;
  const pick: Picker = ({ body }) => {
    const target = i++ % 2 === 0 ? A : B;
    log.push({ target, body });
    return target;
  };
  return Object.assign(pick, { log });
}

async function connect(options: ClientOptions, pick: Picker = alternating(), token: string = TOKENS.alice) {
  const client = new Client({ name: 'modern-e2e', version: '1.0.0' }, options);
  const transport = new StreamableHTTPClientTransport(new URL(`${A}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
    fetch: balancedFetch(pick),
  });
  await client.connect(transport);
  return Object.assign(client, { sessionId: () => transport.sessionId });
}

describe('the SDK client in each negotiation mode, every request on the other instance', () => {
  test.each([
    ['pinned to 2026-07-28', { versionNegotiation: { mode: { pin: '2026-07-28' } } }, 'modern'],
    ['auto (probes server/discover)', { versionNegotiation: { mode: 'auto' } }, 'modern'],
    ['legacy (the default)', {}, 'legacy'],
  ] as const)('%s', async (_mode, options, era) => {
    const pick = alternating();
    const client = await connect(options, pick);
    expect(client.getProtocolEra()).toBe(era);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(
      expect.arrayContaining(['echo', 'slow_compute', 'test_input_required_result_multi_round']),
    );
    expect(text(await client.callTool({ name: 'echo', arguments: { message: 'both ways' } }))).toBe('Echo: both ways');
    const read = await client.readResource({ uri: 'test://static-text' });
    expect(read.contents[0]).toMatchObject({ uri: 'test://static-text' });
    const prompt = await client.getPrompt({ name: 'test_prompt_with_arguments', arguments: { arg1: 'x', arg2: 'y' } });
    expect(JSON.stringify(prompt.messages)).toContain("arg1='x'");
    const completion = await client.complete({
      ref: { type: 'ref/prompt', name: 'test_prompt_with_arguments' },
      argument: { name: 'arg1', value: 'par' },
    });
    expect(completion.completion.values).toEqual(['paris', 'park', 'party']);
    expect(new Set(pick.log.map((l) => l.target))).toEqual(new Set([A, B]));
    // A modern client never opens a session: no session record exists for it anywhere.
    if (era === 'modern') expect(await c.keys()).not.toContainEqual(expect.stringContaining(':session:'));
    await client.close();
  });
});

describe('multi-round-trip requests', () => {
  test('each retry lands on the other instance and completes there; the sealed state travels with the client', async () => {
    const pick = alternating();
    const client = await connect(
      { versionNegotiation: { mode: { pin: '2026-07-28' } }, capabilities: { elicitation: { form: {} } } },
      pick,
    );
    const asked: string[] = [];
    client.setRequestHandler('elicitation/create', async (req): Promise<ElicitResult> => {
      const message = (req.params as { message: string }).message;
      asked.push(message);
      return { action: 'accept', content: message.startsWith('Step 1') ? { name: 'Ada' } : { color: 'teal' } };
    });
    const result = await client.callTool({ name: 'test_input_required_result_multi_round', arguments: {} });
    expect(text(result)).toBe('Ada likes teal');
    expect(asked).toEqual(['Step 1: What is your name?', 'Step 2: What is your favorite color?']);
    const rounds = pick.log.filter((l) => l.body.includes('test_input_required_result_multi_round'));
    expect(rounds).toHaveLength(3);
    // Consecutive rounds were served by different instances.
    expect(rounds.map((r) => r.target)).toEqual([
      rounds[0]!.target,
      rounds[0]!.target === A ? B : A,
      rounds[0]!.target,
    ]);
    // Rounds 2 and 3 echoed state minted by the other instance.
    expect(rounds.slice(1).every((r) => r.body.includes('"requestState"'))).toBe(true);
    await client.close();
  });

  test('state minted for one user is refused for another on the other instance (-32602), and tampered state too', async () => {
    const first = await modernPost(
      A,
      'tools/call',
      { name: 'test_input_required_result_request_state', arguments: {} },
      { token: TOKENS.alice, capabilities: { elicitation: {} } },
    );
    const state = first.body.result!['requestState'] as string;
    expect(first.body.result).toMatchObject({ resultType: 'input_required' });
    const retry = (token: string, requestState: string) =>
      modernPost(
        B,
        'tools/call',
        {
          name: 'test_input_required_result_request_state',
          arguments: {},
          inputResponses: { confirm: { action: 'accept', content: { ok: true } } },
          requestState,
        },
        { token, capabilities: { elicitation: {} } },
      );
    const mine = await retry(TOKENS.alice, state);
    expect(text(mine.body.result as { content: unknown })).toMatch(/^state-ok/);
    for (const [token, candidate] of [
      [TOKENS.bob, state],
      [TOKENS.alice, `${state.slice(0, -2)}xx`],
    ] as const) {
      const refused = await retry(token, candidate);
      expect(refused.body.error).toMatchObject({ code: -32602, message: 'Invalid or expired requestState' });
      expect(refused.body.id).toBeDefined();
    }
  });
});

describe('subscriptions/listen', () => {
  test('a stream held by A receives the changes raised on B: list changes and resource updates, filtered', async () => {
    // The listen request goes to A, everything else to B.
    const pick: Picker = ({ body }) => (body.includes('"subscriptions/listen"') ? A : B);
    const client = await connect({ versionNegotiation: { mode: { pin: '2026-07-28' } } }, pick);
    const seen = new EventEmitter();
    client.setNotificationHandler('notifications/tools/list_changed', () => void seen.emit('n', 'tools'));
    client.setNotificationHandler('notifications/prompts/list_changed', () => void seen.emit('n', 'prompts'));
    client.setNotificationHandler('notifications/resources/updated', (n) => void seen.emit('n', n.params.uri));
    const watched = 'test://static/resource/7';
    const subscription = await client.listen({ toolsListChanged: true, resourceSubscriptions: [watched] });
    expect(subscription.honoredFilter).toEqual({ toolsListChanged: true, resourceSubscriptions: [watched] });

    let next = once(seen, 'n');
    await client.callTool({ name: 'test_trigger_tool_change', arguments: {} }); // served by B
    expect(await next).toEqual(['tools']);

    // Not asked for: a prompts change and another resource's update; then the watched one, from B.
    next = once(seen, 'n');
    await client.callTool({ name: 'test_trigger_prompt_change', arguments: {} });
    c.instances[1]!.events.publish({ kind: 'resource_updated', uri: 'test://static/resource/8' });
    c.instances[1]!.events.publish({ kind: 'resource_updated', uri: watched });
    expect(await next).toEqual([watched]);

    await subscription.close();
    expect(await subscription.closed).toBe('local');
    await client.close();
  });

  test('the raw stream: the acknowledgement first, then notifications tagged with the subscription id', async () => {
    const res = await fetch(`${A}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TOKENS.alice}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': MODERN_VERSION,
        'mcp-method': 'subscriptions/listen',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 'listen-1',
        method: 'subscriptions/listen',
        params: {
          notifications: { promptsListChanged: true },
          _meta: {
            'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
            'io.modelcontextprotocol/clientCapabilities': {},
          },
        },
      }),
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const frames: Array<{ method?: string; params?: { _meta?: Record<string, unknown> } }> = [];
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    const nextFrame = async () => {
      for (;;) {
        const line = buffer.split('\n').find((l) => l.startsWith('data:'));
        if (line) {
          buffer = buffer.slice(buffer.indexOf(line) + line.length);
          frames.push(JSON.parse(line.slice(5)) as (typeof frames)[number]);
          return frames.at(-1)!;
        }
        const { value } = await reader.read();
        buffer += decoder.decode(value, { stream: true });
      }
    };
    const ack = await nextFrame();
    expect(ack.method).toBe('notifications/subscriptions/acknowledged');
    const id = ack.params?._meta?.['io.modelcontextprotocol/subscriptionId'];
    expect(typeof id).toBe('string');
    await modernPost(B, 'tools/call', { name: 'test_trigger_prompt_change', arguments: {} }, { token: TOKENS.alice });
    const change = await nextFrame();
    expect(change).toMatchObject({
      method: 'notifications/prompts/list_changed',
      params: { _meta: { 'io.modelcontextprotocol/subscriptionId': id } },
    });
    await reader.cancel();
  });

  test('a 2025 session on A hears a list change raised by a 2026-07-28 request on B (one bus for both eras)', async () => {
    const legacy = await connect({}, () => A);
    const changed = new Promise<void>((resolve) =>
      legacy.setNotificationHandler('notifications/tools/list_changed', () => resolve()),
    );
    // The session's GET stream is open once its lease is taken.
    const lease = c.keyspace.sessionGetStream(sessionOwnerKey('alice', 'test-client'), legacy.sessionId()!);
    while ((await c.redis.exists(lease)) === 0) await new Promise((r) => setImmediate(r));
    await modernPost(B, 'tools/call', { name: 'test_trigger_tool_change', arguments: {} }, { token: TOKENS.alice });
    await changed;
    await legacy.close();
  });
});

describe('guards and errors of the 2026-07-28 lane', () => {
  test('no token → 401 with a challenge; a disallowed Origin → 403; both before any MCP work', async () => {
    const anon = await modernPost(A, 'tools/list');
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
    const evil = await modernPost(
      A,
      'tools/list',
      {},
      { token: TOKENS.alice, headers: { origin: 'http://evil.example.com' } },
    );
    expect(evil.status).toBe(403);
  });

  test('the spec’s codes, each with the request’s id', async () => {
    const opts = { token: TOKENS.alice };
    const mismatch = await modernPost(
      A,
      'tools/call',
      { name: 'echo', arguments: { message: 'x' } },
      { ...opts, id: 'm1', headers: { 'mcp-name': 'add' } },
    );
    expect([mismatch.status, mismatch.body]).toEqual([
      400,
      expect.objectContaining({ id: 'm1', error: expect.objectContaining({ code: -32020 }) }),
    ]);
    const future = await modernPost(
      A,
      'tools/list',
      { _meta: { 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } },
      { ...opts, id: 'm2', headers: { 'mcp-protocol-version': '2099-01-01' } },
    );
    expect(future.status).toBe(400);
    expect(future.body).toMatchObject({
      id: 'm2',
      error: { code: -32022, data: { supported: ['2026-07-28'], requested: '2099-01-01' } },
    });
    for (const removed of ['ping', 'logging/setLevel', 'resources/subscribe', 'initialize']) {
      const gone = await modernPost(A, removed, {}, { ...opts, id: `r-${removed}` });
      expect([gone.status, gone.body.id, gone.body.error?.code]).toEqual([404, `r-${removed}`, -32601]);
    }
    const needsSampling = await modernPost(
      A,
      'tools/call',
      { name: 'test_missing_capability', arguments: {} },
      { ...opts, id: 'm3' },
    );
    expect([needsSampling.status, needsSampling.body]).toEqual([
      400,
      expect.objectContaining({
        id: 'm3',
        error: expect.objectContaining({ code: -32021, data: { requiredCapabilities: { sampling: {} } } }),
      }),
    ]);
    const modernHeaders = { authorization: `Bearer ${TOKENS.alice}`, 'mcp-protocol-version': MODERN_VERSION };
    expect((await fetch(`${B}/mcp`, { headers: { ...modernHeaders, accept: 'text/event-stream' } })).status).toBe(405);
    expect((await fetch(`${B}/mcp`, { method: 'DELETE', headers: modernHeaders })).status).toBe(405);
  });

  test('cache hints on the cacheable results; 2025 answers carry none', async () => {
    const list = await modernPost(A, 'tools/list', {}, { token: TOKENS.alice });
    expect(list.body.result).toMatchObject({ ttlMs: 60_000, cacheScope: 'public' });
    const read = await modernPost(A, 'resources/read', { uri: 'test://static-text' }, { token: TOKENS.alice });
    expect(read.body.result).toMatchObject({ ttlMs: 0, cacheScope: 'private' });
    const legacy = await connect({}, () => B);
    const legacyList = await legacy.listTools();
    expect(legacyList).not.toHaveProperty('ttlMs');
    await legacy.close();
  });
});

describe('rate limits apply to the 2026-07-28 lane like to sessions', () => {
  let limited: Cluster;
  beforeAll(async () => {
    limited = await startCluster(2, {
      RATE_LIMIT_ENABLED: 'true',
      RATE_LIMIT_PER_USER: '3',
      RATE_LIMIT_PER_ADDRESS: '1000',
    });
  });
  afterAll(() => limited.close());

  test('the per-user budget is shared by both instances', async () => {
    const [X, Y] = limited.instances.map((i) => i.url) as [string, string];
    const statuses: number[] = [];
    for (const target of [X, Y, X, Y])
      statuses.push((await modernPost(target, 'tools/list', {}, { token: TOKENS.alice })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    // Another user has a budget of their own.
    expect((await modernPost(X, 'tools/list', {}, { token: TOKENS.bob })).status).toBe(200);
  });
});
