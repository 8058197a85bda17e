import { afterEach, describe, expect, it } from '@jest/globals';
import {
  fromJsonSchema,
  ProtocolError,
  ProtocolErrorCode,
  type CallToolResult,
  type JsonSchemaType,
} from '@modelcontextprotocol/client';
import { connectClient, type Connected } from '../testing/connectClient.js';
import { readResource } from '../resources/handlers.js';

let conn: Connected | undefined;
afterEach(async () => {
  await conn?.close();
  conn = undefined;
});

function text(result: unknown): string {
  const r = result as CallToolResult;
  return r.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
}

describe('tools/list', () => {
  it('describes every tool with title, description, object inputSchema and annotations', async () => {
    conn = await connectClient();
    const { tools } = await conn.client.listTools();
    expect(tools.length).toBeGreaterThanOrEqual(26);
    for (const tool of tools) {
      expect(tool.description).toBeTruthy();
      expect(tool.title).toBeTruthy();
      expect(tool.inputSchema.type).toBe('object');
      expect(tool.annotations?.readOnlyHint).toBeDefined();
    }
    const byName = new Map(tools.map((t) => [t.name, t]));
    expect(byName.get('echo')?.icons?.[0]?.mimeType).toBe('image/svg+xml');
    expect(byName.get('getWeather')?.outputSchema?.type).toBe('object');
    // Only the 2020-12 fixture declares its dialect; its keywords survive untouched (SEP-1613).
    const schema = byName.get('json_schema_2020_12_tool')!.inputSchema as Record<string, unknown>;
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$defs).toHaveProperty('address');
    expect(schema.additionalProperties).toBe(false);
    // SEP-2106: the wider 2020-12 vocabulary is published as written too.
    expect(schema).toMatchObject({
      allOf: [{ anyOf: expect.any(Array) }],
      if: expect.any(Object),
      then: expect.any(Object),
      else: expect.any(Object),
    });
    expect((schema.$defs as Record<string, Record<string, unknown>>)['address']!.$anchor).toBe('addressDef');
    expect((byName.get('echo')!.inputSchema as Record<string, unknown>).$schema).toBeUndefined();
  });
});

describe('a tool with a hand-written JSON Schema 2020-12 inputSchema', () => {
  it('checks its arguments against that schema ($ref, if/then/else, additionalProperties)', async () => {
    conn = await connectClient();
    const call = (args: Record<string, unknown>) =>
      conn!.client.callTool({ name: 'json_schema_2020_12_tool', arguments: args });
    const ok = await call({ name: 'Ada', contactMethod: 'phone', phone: '555', address: { street: 's', city: 'c' } });
    expect(ok.isError).toBeFalsy();
    expect(text(ok)).toContain('"phone":"555"');
    // contactMethod phone without a phone number, an unknown property, a mistyped $ref target.
    for (const bad of [
      { contactMethod: 'phone', email: 'a@b' },
      { email: 'a@b', extra: 1 },
      { email: 'a@b', address: { city: 3 } },
    ]) {
      const refused = await call(bad);
      expect(refused.isError).toBe(true);
      expect(text(refused)).toContain('Invalid arguments for tool json_schema_2020_12_tool');
    }
  });
});

describe('tools/call', () => {
  it('answers an unknown tool with the spec error -32602, not an internal error', async () => {
    conn = await connectClient();
    const err = await conn.client.callTool({ name: 'no_such_tool' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe(ProtocolErrorCode.InvalidParams);
    expect((err as ProtocolError).message).toContain('Unknown tool: no_such_tool');
  });

  it('reports invalid arguments as an isError result', async () => {
    conn = await connectClient();
    const result = await conn.client.callTool({ name: 'add', arguments: { a: 'one', b: 2 } });
    expect(result.isError).toBe(true);
    expect(text(result)).toContain('Invalid arguments for tool add');
  });

  it('echo and add', async () => {
    conn = await connectClient();
    expect(text(await conn.client.callTool({ name: 'echo', arguments: { message: 'hi' } }))).toBe('Echo: hi');
    expect(text(await conn.client.callTool({ name: 'add', arguments: { a: 2, b: 3.5 } }))).toContain('is 5.5');
  });

  it('getTinyImage returns a PNG', async () => {
    conn = await connectClient();
    const result = await conn.client.callTool({ name: 'getTinyImage' });
    const image = result.content.find((c) => c.type === 'image');
    expect(image?.type === 'image' && image.mimeType).toBe('image/png');
    const bytes = Buffer.from(image?.type === 'image' ? image.data : '', 'base64');
    expect(bytes.subarray(0, 8)).toEqual(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]));
  });

  it('annotatedMessage carries priority and audience, and the optional image', async () => {
    conn = await connectClient();
    const result = await conn.client.callTool({
      name: 'annotatedMessage',
      arguments: { messageType: 'error', includeImage: true },
    });
    expect(result.content[0]?.annotations).toEqual({ priority: 1, audience: ['user', 'assistant'] });
    expect(result.content[1]?.type).toBe('image');
    expect(result.content[1]?.annotations?.audience).toEqual(['user']);
  });

  it('getResourceReference embeds the resource; getResourceLinks returns resource_link items', async () => {
    conn = await connectClient();
    const ref = await conn.client.callTool({ name: 'getResourceReference', arguments: { resourceId: 4 } });
    const embedded = ref.content.find((c) => c.type === 'resource');
    expect(embedded?.type === 'resource' && embedded.resource).toEqual(readResource('test://static/resource/4'));

    const links = await conn.client.callTool({ name: 'getResourceLinks', arguments: { count: 4 } });
    const linkItems = links.content.filter((c) => c.type === 'resource_link');
    expect(linkItems.map((l) => l.type === 'resource_link' && l.uri)).toEqual(
      [1, 2, 3, 4].map((n) => `test://static/resource/${n}`),
    );
  });

  it('getWeather returns structuredContent valid against its outputSchema, and the same JSON as text', async () => {
    conn = await connectClient();
    const { tools } = await conn.client.listTools(); // lets the SDK client validate structuredContent too
    const outputSchema = tools.find((t) => t.name === 'getWeather')!.outputSchema!;
    const result = await conn.client.callTool({ name: 'getWeather', arguments: { city: 'Lyon' } });
    const validated = fromJsonSchema(outputSchema as JsonSchemaType)['~standard'].validate(result.structuredContent);
    expect(validated).toEqual({ value: result.structuredContent });
    expect(JSON.parse(text(result))).toEqual(result.structuredContent);
  });

  it('serves the conformance fixtures with the content types the suite checks', async () => {
    conn = await connectClient();
    const types = async (name: string) => (await conn!.client.callTool({ name })).content.map((c) => c.type);
    expect(await types('test_simple_text')).toEqual(['text']);
    expect(await types('test_image_content')).toEqual(['image']);
    expect(await types('test_audio_content')).toEqual(['audio']);
    expect(await types('test_embedded_resource')).toEqual(['resource']);
    expect(await types('test_multiple_content_types')).toEqual(['text', 'image', 'resource']);
    const failing = await conn.client.callTool({ name: 'test_error_handling' });
    expect(failing.isError).toBe(true);
    const audio = (await conn.client.callTool({ name: 'test_audio_content' })).content[0];
    expect(audio?.type === 'audio' && Buffer.from(audio.data, 'base64').subarray(0, 4).toString()).toBe('RIFF');
  });
});

describe('longRunningOperation', () => {
  it('sends one progress notification per step with the caller’s token', async () => {
    conn = await connectClient();
    const progress: Array<{ progress: number; total?: number }> = [];
    const result = await conn.client.callTool(
      { name: 'longRunningOperation', arguments: { duration: 0.03, steps: 3 } },
      { onprogress: (p) => progress.push(p) },
    );
    expect(text(result)).toContain('completed');
    expect(progress.map((p) => [p.progress, p.total])).toEqual([
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
  });

  it('stops when the client sends notifications/cancelled', async () => {
    conn = await connectClient();
    const abort = new AbortController();
    const call = conn.client.callTool(
      { name: 'longRunningOperation', arguments: { duration: 5, steps: 100 } },
      { signal: abort.signal, onprogress: () => abort.abort('user gave up') },
    );
    await expect(call).rejects.toBeDefined();
    const line = await conn.logs.waitFor('longRunningOperation cancelled');
    expect(line.sessionId).toBe('test-session');
  });
});

describe('sampling', () => {
  it('sampleLLM sends sampling/createMessage to the client and returns its answer', async () => {
    const prompts: string[] = [];
    conn = await connectClient({
      capabilities: { sampling: {} },
      setup: (client) =>
        client.setRequestHandler('sampling/createMessage', async (req) => {
          const c = req.params.messages[0]!.content;
          prompts.push(!Array.isArray(c) && c.type === 'text' ? c.text : '');
          return {
            role: 'assistant',
            content: { type: 'text', text: 'forty-two' },
            model: 'fake-model',
            stopReason: 'endTurn',
          };
        }),
    });
    const result = await conn.client.callTool({
      name: 'sampleLLM',
      arguments: { prompt: 'meaning of life?', maxTokens: 5 },
    });
    expect(prompts).toEqual(['meaning of life?']);
    expect(text(result)).toBe('LLM sampling result (fake-model): forty-two');
  });

  it('reports a client without the sampling capability as a tool error', async () => {
    conn = await connectClient();
    const result = await conn.client.callTool({ name: 'sampleLLM', arguments: { prompt: 'x' } });
    expect(result.isError).toBe(true);
    expect(text(result)).toContain('does not support sampling');
  });
});

describe('elicitation', () => {
  const answers = [
    [
      {
        action: 'accept',
        content: { name: 'Ada', email: 'ada@example.com', age: 36, color: 'green', newsletter: true },
      },
      'User provided: {"name":"Ada"',
    ],
    [{ action: 'decline' }, 'User declined'],
    [{ action: 'cancel' }, 'User cancelled'],
  ] as const;

  it.each(answers)('elicitInput reports %j', async (answer, expected) => {
    let requested: unknown;
    conn = await connectClient({
      capabilities: { elicitation: { form: {} } },
      setup: (client) =>
        client.setRequestHandler('elicitation/create', async (req) => {
          requested = req.params;
          return answer;
        }),
    });
    const result = await conn.client.callTool({ name: 'elicitInput', arguments: {} });
    expect(text(result)).toContain(expected);
    expect(requested).toMatchObject({ mode: 'form', requestedSchema: { required: ['name', 'email'] } });
    // A 2025 client sees a plain tools/call result: the multi-round-trip vocabulary stays server-side.
    expect(JSON.stringify(conn.received)).not.toContain('input_required');
  });

  it('fails the tool when accepted content does not match the form', async () => {
    conn = await connectClient({
      capabilities: { elicitation: { form: {} } },
      setup: (client) =>
        client.setRequestHandler('elicitation/create', async () => ({
          action: 'accept',
          content: { name: 'Ada', email: 'not an email' },
        })),
    });
    const result = await conn.client.callTool({ name: 'elicitInput', arguments: {} });
    expect(result.isError).toBe(true);
    expect(text(result)).toContain('Elicitation response content does not match requested schema');
  });

  it('reports a client without form elicitation as a tool error', async () => {
    conn = await connectClient();
    const result = await conn.client.callTool({ name: 'elicitInput', arguments: {} });
    expect(result.isError).toBe(true);
    expect(text(result)).toContain('does not support form elicitation');
  });

  it('URL mode: sends the url request, then notifications/elicitation/complete', async () => {
    const completed: string[] = [];
    let elicitationId = '';
    conn = await connectClient({
      capabilities: { elicitation: { form: {}, url: {} } },
      setup: (client) => {
        client.setRequestHandler('elicitation/create', async (req) => {
          expect(req.params.mode).toBe('url');
          elicitationId = req.params.mode === 'url' ? req.params.elicitationId : '';
          return { action: 'accept' };
        });
        client.setNotificationHandler('notifications/elicitation/complete', (n) => {
          completed.push(n.params.elicitationId);
        });
      },
    });
    const result = await conn.client.callTool({ name: 'elicitUrl', arguments: {} });
    expect(text(result)).toContain(': accept');
    // The completion notification travels before the response on the same stream.
    expect(completed).toEqual([elicitationId]);
  });

  it('URL mode as error: tools/call fails with URLElicitationRequiredError (-32042)', async () => {
    conn = await connectClient({ capabilities: { elicitation: { url: {} } } });
    const err = await conn.client
      .callTool({ name: 'elicitUrl', arguments: { asError: true } })
      .catch((e: unknown) => e);
    expect((err as ProtocolError).code).toBe(ProtocolErrorCode.UrlElicitationRequired);
  });
});

describe('pingClient', () => {
  it('pings the client (server→client ping)', async () => {
    conn = await connectClient();
    expect(text(await conn.client.callTool({ name: 'pingClient' }))).toMatch(/^Client answered ping in \d+ ms\.$/);
  });
});

describe('the tasks extension’s tools on a 2025 session (which this server does not offer tasks)', () => {
  it('runs an optional-task tool inside the call and refuses a task-only one with a tool error', async () => {
    conn = await connectClient();
    expect(text(await conn.client.callTool({ name: 'slow_compute', arguments: { seconds: 0, label: 'inline' } }))).toBe(
      'Computed inline in 0 s',
    );
    const refused = await conn.client.callTool({ name: 'confirm_delete', arguments: { filename: 'x' } });
    expect(refused.isError).toBe(true);
    expect(text(refused)).toContain('runs only as a task');
    // A protocol error inside the work becomes a tool error, as for any tool on this lane.
    const failed = await conn.client.callTool({ name: 'protocol_error_job', arguments: {} });
    expect(failed.isError).toBe(true);
  });
});
