/**
 * Tools that need the client: sampling (client/sampling), form- and URL-mode elicitation
 * (client/elicitation) and ping (basic/utilities/ping).
 *
 * Sampling and form elicitation are written once, in the 2026-07-28 multi-round-trip style: the
 * tool returns `inputRequired(...)` and is re-entered with the client's answer in
 * `ctx.mcpReq.inputResponses`. On a 2025 session the SDK's legacy shim sends each embedded request
 * as a real server→client request related to the tools/call, so it rides that call's stream
 * wherever the call's HTTP request is held (a takeover may leave no GET stream to carry it); the
 * capability checks work after a takeover because the host replays the session's real
 * `initialize` into the rebuilt server.
 *
 * URL-mode elicitation and ping stay push-style (2025-only): the shim does not bridge
 * `notifications/elicitation/complete`, which `elicitUrl` promises, and 2026-07-28 has no ping.
 */
import { randomUUID } from 'node:crypto';
import {
  fromJsonSchema,
  inputRequired,
  inputResponse,
  type ClientCapabilities,
  type CreateMessageRequestParams,
  type CreateMessageResult,
  type CreateMessageResultWithTools,
  type ElicitRequestFormParams,
  type ElicitResult,
  type InputRequiredResult,
  type JsonSchemaType,
  type StandardSchemaV1,
  UrlElicitationRequiredError,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import { ICONS } from '../assets.js';
import { declaredCapabilities } from '../envelope.js';
import { ToolExecutionError } from '../errors.js';
import { defineTool, type ToolCall } from './registry.js';

/** Humans answer elicitations (and may approve samplings): the wait for one answer. */
export const HUMAN_TIMEOUT_MS = 5 * 60_000;

export type FormSchema = ElicitRequestFormParams['requestedSchema'];

/**
 * Refuses with `refusal` when a 2025 session's client did not declare what the tool needs (the
 * declaration comes from its `initialize`). A 2026-07-28 request declares its capabilities per
 * request, and the SDK answers an `inputRequired` that the declaration does not cover with the
 * spec's -32021 itself, so only sessions are checked here.
 */
function refuseUnless(call: ToolCall, supported: (caps: ClientCapabilities) => boolean, refusal: string): void {
  if (call.ctx.session && !supported(clientCapabilities(call))) throw new ToolExecutionError(refusal);
}

/** What the caller declared: at `initialize` on a 2025 session, in this request's `_meta` on 2026-07-28. */
export function clientCapabilities(call: ToolCall): ClientCapabilities {
  if (call.ctx.session) return call.server.getClientCapabilities() ?? {};
  return declaredCapabilities(call.sdk);
}

function samplingText(result: CreateMessageResult | CreateMessageResultWithTools): string {
  const blocks = Array.isArray(result.content) ? result.content : [result.content];
  return blocks.map((b) => (b.type === 'text' ? b.text : `[${b.type}]`)).join('\n');
}

/** The sampling answer under `key`, once the client gave it (undefined on the first entry). */
export function sampledText(call: ToolCall, key: string): { text: string; model: string } | undefined {
  const view = inputResponse(call.sdk.mcpReq.inputResponses, key);
  if (view.kind !== 'sampling') return undefined;
  return { text: samplingText(view.result), model: view.result.model };
}

/** Asks the client's LLM (sampling/createMessage with one user message) under `key`. */
export function askSampling(call: ToolCall, key: string, prompt: string, maxTokens: number): InputRequiredResult {
  refuseUnless(
    call,
    (caps) => caps.sampling !== undefined,
    'The client does not support sampling (it declared no sampling capability).',
  );
  const params: CreateMessageRequestParams = {
    messages: [{ role: 'user', content: { type: 'text', text: prompt } }],
    systemPrompt: 'You are a helpful assistant answering a test request from an MCP server.',
    maxTokens,
    temperature: 0.7,
  };
  return inputRequired({ inputRequests: { [key]: inputRequired.createMessage(params) } });
}

/** Asks the user to fill a form (elicitation/create, form mode) under `key`. */
export function askForm(
  call: ToolCall,
  key: string,
  message: string,
  requestedSchema: FormSchema,
): InputRequiredResult {
  refuseUnless(call, (caps) => caps.elicitation?.form !== undefined, 'The client does not support form elicitation.');
  return inputRequired({ inputRequests: { [key]: inputRequired.elicit({ message, requestedSchema }) } });
}

const validators = new WeakMap<FormSchema, StandardSchemaV1>();

/**
 * The elicitation answer under `key`, once the client gave it (undefined on the first entry).
 * Accepted content is client input: it is checked against the form's schema (the SDK leaves that
 * to the handler in the multi-round-trip style), and a mismatch fails the tool.
 */
export function elicited(call: ToolCall, key: string, requestedSchema: FormSchema): ElicitResult | undefined {
  const view = inputResponse(call.sdk.mcpReq.inputResponses, key);
  if (view.kind !== 'elicit') return undefined;
  if (view.action !== 'accept' || view.content === undefined) return { action: view.action };
  let schema = validators.get(requestedSchema);
  if (!schema) validators.set(requestedSchema, (schema = fromJsonSchema(requestedSchema as JsonSchemaType)));
  const checked = schema['~standard'].validate(view.content) as StandardSchemaV1.Result<unknown>;
  if (checked.issues) {
    throw new ToolExecutionError(
      `Elicitation response content does not match requested schema: ${checked.issues.map((i) => i.message).join('; ')}`,
    );
  }
  return { action: 'accept', content: view.content as ElicitResult['content'] };
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
    const answer = sampledText(call, 'llm');
    if (!answer) return askSampling(call, 'llm', prompt, maxTokens);
    return { content: [{ type: 'text', text: `LLM sampling result (${answer.model}): ${answer.text}` }] };
  },
});

const CONTACT_FORM: FormSchema = {
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
  description:
    'Asks the user to fill a small form (string, email, integer, titled enum, boolean) and reports the answer, decline or cancel.',
  annotations: ASKS_CLIENT,
  icons: ICONS.tool,
  input: z.object({
    message: z.string().default('Please tell us a little about yourself.').describe('Message shown to the user'),
  }),
  run: async ({ message }, call) => {
    const answer = elicited(call, 'contact', CONTACT_FORM);
    if (!answer) return askForm(call, 'contact', message, CONTACT_FORM);
    return { content: [{ type: 'text', text: describeElicitation(answer) }] };
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
    if (!clientCapabilities(call).elicitation?.url) {
      throw new ToolExecutionError('The client does not support URL-mode elicitation.');
    }
    const related = { relatedRequestId: call.sdk.mcpReq.id, signal: call.sdk.mcpReq.signal, timeout: HUMAN_TIMEOUT_MS };
    const result = await call.server.elicitInput(params, related);
    if (result.action === 'accept') {
      // The out-of-band interaction is simulated as finished at once.
      await call.server.createElicitationCompletionNotifier(elicitationId, { relatedRequestId: call.sdk.mcpReq.id })();
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
    await call.sdk.mcpReq.send({ method: 'ping' }, { timeout: 10_000 });
    return {
      content: [{ type: 'text', text: `Client answered ping in ${Math.round(performance.now() - started)} ms.` }],
    };
  },
});

export const CLIENT_REQUEST_TOOLS = [sampleLLM, elicitInput, elicitUrl, pingClient];
