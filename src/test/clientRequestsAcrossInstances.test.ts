/**
 * Server→client requests (sampling, elicitation) answered across two instances, many times, as
 * behind a per-request round-robin balancer (the Inspector's browser test): the client's requests
 * (tool calls, the standalone GET stream it keeps open) take turns between the instances, and so
 * do its answers, on a cycle of their own, so every combination of host, tool-call instance and
 * answer instance occurs. Every call has to come back with the client's answer; none may hang.
 */
import type { CallToolResult, Client } from '@modelcontextprotocol/client';
import { randomBytes } from 'node:crypto';
import { authorizeByForms } from '../auth/testing/formLogin.js';
import { removeKeysWithPrefix } from '../redis/removePrefix.js';
import type { RunningServer } from '../server.js';
import {
  adminRedisEnv,
  integratedEnv,
  redisEnv,
  redisSettingsFor,
  startCluster,
  startTestInstance,
  TOKENS,
  type Cluster,
} from './cluster.js';
import { connectWithOAuth, HeadlessProvider } from './headlessOAuth.js';
import { balancedFetch, connectClient, type Picker } from './mcpClient.js';

const text = (r: unknown) => ((r as CallToolResult).content[0] as { text: string }).text;

/**
 * Requests and notifications (GETs included) take turns between the instances; the client's
 * answers (bodies with no method) go to each instance twice in a row, so over four rounds an answer
 * lands on the same instance as its tool call and on the other one. `answeredOn` counts them.
 */
function alternating(urls: string[], answeredOn: Map<string, number> = new Map()): Picker {
  let requests = 0;
  let answers = 0;
  return ({ method, body }) => {
    if (method !== 'POST' || body.includes('"method"')) return urls[requests++ % urls.length]!;
    const url = urls[Math.floor(answers++ / 2) % urls.length]!;
    answeredOn.set(url, (answeredOn.get(url) ?? 0) + 1);
    return url;
  };
}

const ROUNDS = Number(process.env['CLIENT_REQUEST_ROUNDS'] ?? '60');

describe.each<{ name: string; env: Record<string, string> }>([
  { name: 'both instances live', env: {} },
  { name: 'one live session per instance (passivation)', env: { MAX_LIVE_SESSIONS_PER_INSTANCE: '1' } },
])('server→client requests answered across two instances: $name', ({ env }) => {
  let c: Cluster;
  let urls: string[];
  const answeredOn = new Map<string, number>();
  const clients: Client[] = [];
  beforeAll(async () => {
    c = await startCluster(2, env);
    urls = c.instances.map((i) => i.url);
  });
  afterAll(async () => {
    await Promise.all(clients.map((cl) => cl.close()));
    await c.close();
  });

  async function connect(delayed: boolean): Promise<Client> {
    const { client } = await connectClient(urls[0]!, TOKENS.alice, alternating(urls, answeredOn), {
      sampling: {},
      elicitation: { form: {} },
    });
    clients.push(client);
    // A delayed answer waits a turn of the event loop, so the call's stream settles first.
    const pause = () => (delayed ? new Promise((r) => setImmediate(r)) : Promise.resolve());
    client.setRequestHandler('sampling/createMessage', async (req) => {
      await pause();
      return {
        role: 'assistant',
        model: 'm',
        content: { type: 'text', text: `echo ${(req.params.messages[0]!.content as { text: string }).text}` },
      };
    });
    client.setRequestHandler('elicitation/create', async () => {
      await pause();
      return {
        action: 'accept',
        content: { name: 'Ada', email: 'ada@example.com', age: 36, role: 'x', subscribe: true },
      };
    });
    return client;
  }

  async function round(client: Client, n: number): Promise<void> {
    if (n % 3 === 2) {
      expect(text(await client.callTool({ name: 'elicitInput', arguments: {} }))).toContain('"name":"Ada"');
    } else {
      const result = await client.callTool({ name: 'sampleLLM', arguments: { prompt: `p${n}`, maxTokens: 5 } });
      expect(text(result)).toContain(`echo p${n}`);
    }
  }

  test.each([false, true])('one client, one call at a time (delayed answer: %s)', async (delayed) => {
    const client = await connect(delayed);
    answeredOn.clear();
    for (let n = 0; n < ROUNDS; n++) await round(client, n);
    // Half the answers crossed Redis to the host (the session is hosted where it was initialized).
    expect(answeredOn.get(urls[1]!)).toBe(ROUNDS / 2);
  });

  test('three clients, four calls at once each', async () => {
    const all = await Promise.all([connect(false), connect(true), connect(false)]);
    await Promise.all(
      all.map(async (client) => {
        for (let n = 0; n < ROUNDS / 4; n++) await Promise.all([0, 1, 2, 3].map((k) => round(client, n * 4 + k)));
      }),
    );
  });
});

describe('server→client requests answered across two instances, integrated OAuth', () => {
  const BASE = 'http://localhost:3232';
  const prefix = `t${randomBytes(5).toString('hex')}`;
  let instances: RunningServer[] = [];
  let fetchVia: typeof fetch;
  /** HTTP status of every POST carrying the client's answer to a server→client request. */
  const answers: number[] = [];
  const clients: Client[] = [];
  beforeAll(async () => {
    const start = () =>
      startTestInstance({
        ...redisEnv(),
        REDIS_PREFIX: prefix,
        ...integratedEnv(BASE),
      });
    instances = [await start(), await start()];
    const urls = instances.map((i) => i.url);
    const toA = balancedFetch(() => urls[0]!);
    const toAny = balancedFetch(alternating(urls));
    fetchVia = async (input, init) => {
      const u = new URL(input instanceof Request ? input.url : String(input));
      if (!u.pathname.startsWith('/mcp')) return toA(input, init);
      const res = await toAny(input, init);
      const body = typeof init?.body === 'string' ? init.body : '';
      if (init?.method === 'POST' && !body.includes('"method"')) answers.push(res.status);
      return res;
    };
  });
  afterAll(async () => {
    await Promise.all(clients.map((cl) => cl.close()));
    await Promise.allSettled(instances.map((i) => i.stop()));
    await removeKeysWithPrefix(redisSettingsFor(adminRedisEnv()), prefix);
  });

  async function connect() {
    const provider = new HeadlessProvider({
      redirectUrl: 'http://127.0.0.1:6276/oauth/callback',
      browser: (url) => authorizeByForms(url, { userId: 'alice', fetch: fetchVia }),
    });
    const { client } = await connectWithOAuth(provider, `${BASE}/mcp`, fetchVia, {
      capabilities: { sampling: {}, elicitation: { form: {} } },
    });
    clients.push(client);
    return { client, provider };
  }

  test('sampling and elicitation, one call at a time, the tool call and the answer on alternating instances', async () => {
    const { client } = await connect();
    client.setRequestHandler('sampling/createMessage', async (req) => ({
      role: 'assistant',
      model: 'm',
      content: { type: 'text', text: `echo ${(req.params.messages[0]!.content as { text: string }).text}` },
    }));
    client.setRequestHandler('elicitation/create', async () => ({
      action: 'accept',
      content: { name: 'Ada', email: 'ada@example.com', age: 36, role: 'x', subscribe: true },
    }));
    for (let n = 0; n < ROUNDS; n++) {
      if (n % 3 === 2) expect(text(await client.callTool({ name: 'elicitInput', arguments: {} }))).toContain('Ada');
      else
        expect(text(await client.callTool({ name: 'sampleLLM', arguments: { prompt: `p${n}` } }))).toContain(
          `echo p${n}`,
        );
    }
  });

  test('the access token expires while the client is answering: the answer is refused 401, refreshed and resent', async () => {
    const { client, provider } = await connect();
    client.setRequestHandler('sampling/createMessage', async (req) => {
      // As if the token expired while the user looked at the dialog.
      const tokens = provider.tokens()!;
      provider.saveTokens({ ...tokens, access_token: 'expired-token' });
      return {
        role: 'assistant',
        model: 'm',
        content: { type: 'text', text: `echo ${(req.params.messages[0]!.content as { text: string }).text}` },
      };
    });
    answers.length = 0;
    for (let n = 0; n < 6; n++)
      expect(text(await client.callTool({ name: 'sampleLLM', arguments: { prompt: `p${n}` } }))).toContain(
        `echo p${n}`,
      );
    // Each answer was refused once (the token had expired), then accepted after the refresh.
    expect(answers).toEqual(Array.from({ length: 6 }, () => [401, 202]).flat());
  });

  test('the access token expires while the client answers and has other requests in flight: every request refreshes, none is refused', async () => {
    const { client, provider } = await connect();
    let alongside: Promise<unknown>[] = [];
    client.setRequestHandler('sampling/createMessage', async (req) => {
      provider.saveTokens({ ...provider.tokens()!, access_token: 'expired-token' });
      // Sent together with the answer: each meets the expired token and refreshes with the same
      // refresh token at once (src/auth/server/stores/grants.ts, concurrent refreshes).
      alongside = [client.ping(), client.callTool({ name: 'echo', arguments: { message: 'alongside' } })];
      return {
        role: 'assistant',
        model: 'm',
        content: { type: 'text', text: `echo ${(req.params.messages[0]!.content as { text: string }).text}` },
      };
    });
    for (let n = 0; n < 4; n++) {
      expect(text(await client.callTool({ name: 'sampleLLM', arguments: { prompt: `p${n}` } }))).toContain(
        `echo p${n}`,
      );
      const [, echoed] = await Promise.all(alongside);
      expect(text(echoed)).toContain('alongside');
    }
  });
});
