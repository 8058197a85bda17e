/**
 * Tools that call back into the client: sampling (client/sampling), form- and URL-mode
 * elicitation (client/elicitation) and ping (basic/utilities/ping). Every server→client request is
 * sent with `relatedRequestId` so it rides the tools/call stream: after a takeover there may be no
 * GET stream to carry it, and the SDK's capability checks work because the host replays the
 * session's real `initialize` into a rebuilt server.
 */
import { randomUUID } from 'node:crypto';
import {
  EmptyResultSchema,
  UrlElicitationRequiredError,
  type CreateMessageResult,
  type ElicitRequestFormParams,
  type ElicitResult,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { ICONS } from '../assets.js';
import { ToolExecutionError } from '../errors.js';
import { defineTool, type ToolCall } from './registry.js';

/** Humans answer elicitations (and may approve samplings); the SDK's 60 s default is too short. */
const HUMAN_TIMEOUT_MS = 5 * 60_000;

function relatedTo(call: ToolCall) {
  return { relatedRequestId: call.extra.requestId, signal: call.extra.signal, timeout: HUMAN_TIMEOUT_MS };
}

function samplingText(result: CreateMessageResult): string {
  const blocks = Array.isArray(result.content) ? result.content : [result.content];
  return blocks.map((b) => (b.type === 'text' ? b.text : `[${b.type}]`)).join('\n');
}

/** sampling/createMessage with one user message; returns the model's text. */
export async function sampleText(call: ToolCall, prompt: string, maxTokens: number): Promise<{ text: string; model: string }> {
  if (!call.server.getClientCapabilities()?.sampling) {
    throw new ToolExecutionError('The client does not support sampling (it declared no sampling capability).');
  }
  const result = await call.server.createMessage(
    {
      messages: [{ role: 'user', content: { type: 'text', text: prompt } }],
      systemPrompt: 'You are a helpful assistant answering a test request from an MCP server.',
      maxTokens,
      temperature: 0.7,
    },
    relatedTo(call),
  );
  return { text: samplingText(result), model: result.model };
}

/** elicitation/create in form mode; the SDK checks an accepted answer against the schema. */
export async function elicitForm(
  call: ToolCall,
  message: string,
  requestedSchema: ElicitRequestFormParams['requestedSchema'],
): Promise<ElicitResult> {
  if (!call.server.getClientCapabilities()?.elicitation?.form) {
    throw new ToolExecutionError('The client does not support form elicitation.');
  }
  return call.server.elicitInput({ mode: 'form', message, requestedSchema }, relatedTo(call));
}

export function describeElicitation(result: ElicitResult): string {
  switch (result.action) {
    case 'accept':
      return `User provided: ${JSON.stringify(result.content ?? {})}`;
    case 'decline':
      return 'User declined to provide the information.';
    case 'cancel':
      return 'User cancelled the request.';
  }
}

const ASKS_CLIENT = { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: true };

export const sampleLLM = defineTool({
  name: 'sampleLLM',
  title: 'Sample LLM',
  description: "Asks the client's LLM (sampling/createMessage) and returns its answer.",
  annotations: ASKS_CLIENT,
  icons: ICONS.tool,
  input: z.object({
    prompt: z.string().describe('The prompt to send to the LLM'),
    maxTokens: z.number().int().min(1).max(10_000).default(100).describe('Maximum number of tokens to generate'),
  }),
  run: async ({ prompt, maxTokens }, call) => {
    const { text, model } = await sampleText(call, prompt, maxTokens);
    return { content: [{ type: 'text', text: `LLM sampling result (${model}): ${text}` }] };
  },
});

const CONTACT_FORM: ElicitRequestFormParams['requestedSchema'] = {
  type: 'object',
  properties: {
    name: { type: 'string', title: 'Full name', minLength: 1, maxLength: 100 },
    email: { type: 'string', title: 'Email', format: 'email', description: 'Where we may contact you' },
    age: { type: 'integer', title: 'Age', minimum: 0, maximum: 150 },
    color: {
      type: 'string',
      title: 'Favourite colour',
      oneOf: [
        { const: 'red', title: 'Red' },
        { const: 'green', title: 'Green' },
        { const: 'blue', title: 'Blue' },
      ],
      default: 'blue',
    },
    newsletter: { type: 'boolean', title: 'Subscribe to the newsletter', default: false },
  },
  required: ['name', 'email'],
};

export const elicitInput = defineTool({
  name: 'elicitInput',
  title: 'Elicit input (form)',
  description: 'Asks the user to fill a small form (string, email, integer, titled enum, boolean) and reports the answer, decline or cancel.',
  annotations: ASKS_CLIENT,
  icons: ICONS.tool,
  input: z.object({ message: z.string().default('Please tell us a little about yourself.').describe('Message shown to the user') }),
  run: async ({ message }, call) => {
    const result = await elicitForm(call, message, CONTACT_FORM);
    return { content: [{ type: 'text', text: describeElicitation(result) }] };
  },
});

export const elicitUrl = defineTool({
  name: 'elicitUrl',
  title: 'Elicit via URL',
  description:
    'URL-mode elicitation: asks the client to open a URL out of band, then sends notifications/elicitation/complete. ' +
    'With asError=true it answers with the URLElicitationRequiredError (-32042) instead.',
  annotations: ASKS_CLIENT,
  icons: ICONS.tool,
  input: z.object({
    url: z
      .url({ protocol: /^https?$/ })
      .default('https://modelcontextprotocol.io/specification/2025-11-25/client/elicitation')
      .describe('The URL the user should visit'),
    asError: z.boolean().default(false).describe('Signal the need with error -32042 instead of a request'),
  }),
  run: async ({ url, asError }, call) => {
    const elicitationId = randomUUID();
    const params = { mode: 'url' as const, message: 'Please visit this page to continue.', url, elicitationId };
    if (asError) throw new UrlElicitationRequiredError([params], 'This tool needs you to visit a URL first.');
    if (!call.server.getClientCapabilities()?.elicitation?.url) {
      throw new ToolExecutionError('The client does not support URL-mode elicitation.');
    }
    const result = await call.server.elicitInput(params, relatedTo(call));
    if (result.action === 'accept') {
      // The out-of-band interaction is simulated as finished at once.
      await call.server.createElicitationCompletionNotifier(elicitationId, { relatedRequestId: call.extra.requestId })();
    }
    return { content: [{ type: 'text', text: `URL elicitation ${elicitationId}: ${result.action}` }] };
  },
});

export const pingClient = defineTool({
  name: 'pingClient',
  title: 'Ping the client',
  description: 'Sends a ping request to the client (server→client ping) and reports the round-trip time.',
  annotations: ASKS_CLIENT,
  icons: ICONS.tool,
  input: z.object({}),
  run: async (_args, call) => {
    const started = performance.now();
    await call.extra.sendRequest({ method: 'ping' }, EmptyResultSchema, { timeout: 10_000 });
    return { content: [{ type: 'text', text: `Client answered ping in ${Math.round(performance.now() - started)} ms.` }] };
  },
});

export const CLIENT_REQUEST_TOOLS = [sampleLLM, elicitInput, elicitUrl, pingClient];
