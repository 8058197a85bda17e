import { afterEach, describe, expect, it } from '@jest/globals';
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/client';
import { readResource } from '../resources/handlers.js';
import { connectClient, type Connected } from '../testing/connectClient.js';

let conn: Connected | undefined;
afterEach(async () => {
  await conn?.close();
  conn = undefined;
});

describe('prompts', () => {
  it('lists every prompt with a description and its arguments', async () => {
    conn = await connectClient();
    const { prompts } = await conn.client.listPrompts();
    expect(prompts.map((p) => p.name)).toEqual([
      'simple_prompt',
      'complex_prompt',
      'resource_prompt',
      'test_simple_prompt',
      'test_prompt_with_arguments',
      'test_prompt_with_embedded_resource',
      'test_prompt_with_image',
      'test_input_required_result_prompt',
    ]);
    for (const p of prompts) expect(p.description).toBeTruthy();
    expect(prompts.find((p) => p.name === 'complex_prompt')?.arguments).toEqual([
      { name: 'temperature', description: 'Temperature setting (0-2)', required: true },
      { name: 'style', description: 'Output style; completions depend on the temperature', required: false },
    ]);
  });

  it('gets simple, complex (with an image) and resource prompts', async () => {
    conn = await connectClient();
    const simple = await conn.client.getPrompt({ name: 'simple_prompt' });
    expect(simple.messages[0]?.content).toEqual({ type: 'text', text: 'This is a simple prompt without arguments.' });

    const complex = await conn.client.getPrompt({
      name: 'complex_prompt',
      arguments: { temperature: '0.7', style: 'formal' },
    });
    expect(JSON.stringify(complex.messages)).toContain('temperature=0.7, style=formal');
    expect(complex.messages.some((m) => m.content.type === 'image')).toBe(true);

    const withResource = await conn.client.getPrompt({ name: 'resource_prompt', arguments: { resourceId: '3' } });
    const embedded = withResource.messages.find((m) => m.content.type === 'resource')?.content;
    expect(embedded?.type === 'resource' && embedded.resource).toEqual(readResource('test://static/resource/3'));
  });

  it.each([
    ['complex_prompt', {}],
    ['complex_prompt', { temperature: 'hot' }],
    ['resource_prompt', { resourceId: '101' }],
    ['no_such_prompt', {}],
  ])('refuses %s with %j as -32602', async (name, args) => {
    conn = await connectClient();
    const err = await conn.client.getPrompt({ name, arguments: args }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe(ProtocolErrorCode.InvalidParams);
  });
});

describe('a prompt that needs the client’s input (multi-round-trip, written once)', () => {
  it('on a 2025 session, the SDK’s shim asks with a real elicitation/create, then renders the prompt', async () => {
    const asked: string[] = [];
    conn = await connectClient({
      capabilities: { elicitation: { form: {} } },
      setup: (client) =>
        client.setRequestHandler('elicitation/create', async (req) => {
          asked.push((req.params as { message: string }).message);
          return { action: 'accept', content: { context: 'a quiet afternoon' } };
        }),
    });
    const result = await conn.client.getPrompt({ name: 'test_input_required_result_prompt' });
    expect(asked).toEqual(['What context should the prompt use?']);
    expect(result.messages).toEqual([
      { role: 'user', content: { type: 'text', text: 'Use the following context: a quiet afternoon' } },
    ]);
  });
});

describe('completion/complete', () => {
  async function complete(
    ref: { type: 'ref/prompt'; name: string } | { type: 'ref/resource'; uri: string },
    name: string,
    value: string,
    context?: Record<string, string>,
  ) {
    const res = await conn!.client.complete({
      ref,
      argument: { name, value },
      ...(context ? { context: { arguments: context } } : {}),
    });
    return res.completion;
  }

  it('completes prompt arguments, using earlier arguments as context', async () => {
    conn = await connectClient();
    const prompt = { type: 'ref/prompt' as const, name: 'complex_prompt' };
    expect((await complete(prompt, 'temperature', '0.')).values).toEqual(['0.2', '0.5', '0.7']);
    expect((await complete(prompt, 'style', '', { temperature: '0.2' })).values).toEqual([
      'formal',
      'technical',
      'precise',
      'concise',
    ]);
    expect((await complete(prompt, 'style', 'c', { temperature: '1.5' })).values).toEqual(['casual', 'creative']);
    expect((await complete(prompt, 'style', 'c')).values).toEqual(['concise', 'casual', 'creative']);
    const args = { type: 'ref/prompt' as const, name: 'test_prompt_with_arguments' };
    expect((await complete(args, 'arg2', '', { arg1: 'paris' })).values).toEqual(['paris-a', 'paris-b']);
    expect((await complete({ type: 'ref/prompt', name: 'simple_prompt' }, 'x', '')).values).toEqual([]);
  });

  it('completes the {id} of the resource template', async () => {
    conn = await connectClient();
    const c = await complete({ type: 'ref/resource', uri: 'test://static/resource/{id}' }, 'id', '1');
    expect(c.values).toEqual(['1', '10', '11', '12', '13', '14', '15', '16', '17', '18', '19', '100']);
    expect(c).toMatchObject({ total: 12, hasMore: false });
    expect((await complete({ type: 'ref/resource', uri: 'test://static-text' }, 'id', '')).values).toEqual([]);
  });

  it('refuses unknown references with -32602', async () => {
    conn = await connectClient();
    for (const ref of [
      { type: 'ref/prompt' as const, name: 'nope' },
      { type: 'ref/resource' as const, uri: 'test://nope/{x}' },
    ]) {
      const err = await complete(ref, 'a', '').catch((e: unknown) => e);
      expect((err as ProtocolError).code).toBe(ProtocolErrorCode.InvalidParams);
    }
  });
});
