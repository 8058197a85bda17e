/**
 * Fixture tools named by the official conformance suite (@modelcontextprotocol/conformance 0.1.16
 * and 0.2.0-alpha.12, `server` scenarios tools-*, elicitation-sep1034/sep1330, json-schema-2020-12,
 * server-sse-polling). Names and payloads follow the suite's scenario descriptions; nothing here
 * knows who calls.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { TINY_PNG_BASE64, TINY_WAV_BASE64 } from '../assets.js';
import { askForm, askSampling, elicited, sampledText, type FormSchema } from './clientRequests.js';
import { defineJsonSchemaTool, defineTool, toolError, type ToolCall, type ToolOutcome } from './registry.js';

const FIXTURE = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };
const ASKS_CLIENT = { ...FIXTURE, idempotentHint: false, openWorldHint: true };
const noArgs = z.object({});

export const testSimpleText = defineTool({
  name: 'test_simple_text',
  title: 'Test: simple text',
  description: 'Returns a simple text response.',
  annotations: FIXTURE,
  input: noArgs,
  run: async () => ({ content: [{ type: 'text', text: 'This is a simple text response for testing.' }] }),
});

export const testImageContent = defineTool({
  name: 'test_image_content',
  title: 'Test: image content',
  description: 'Returns a PNG image.',
  annotations: FIXTURE,
  input: noArgs,
  run: async () => ({ content: [{ type: 'image', data: TINY_PNG_BASE64, mimeType: 'image/png' }] }),
});

export const testAudioContent = defineTool({
  name: 'test_audio_content',
  title: 'Test: audio content',
  description: 'Returns a short WAV tone.',
  annotations: FIXTURE,
  input: noArgs,
  run: async () => ({ content: [{ type: 'audio', data: TINY_WAV_BASE64, mimeType: 'audio/wav' }] }),
});

export const testEmbeddedResource = defineTool({
  name: 'test_embedded_resource',
  title: 'Test: embedded resource',
  description: 'Returns an embedded text resource.',
  annotations: FIXTURE,
  input: noArgs,
  run: async () => ({
    content: [
      {
        type: 'resource',
        resource: {
          uri: 'test://embedded-resource',
          mimeType: 'text/plain',
          text: 'This is an embedded resource content.',
        },
      },
    ],
  }),
});

export const testMultipleContentTypes = defineTool({
  name: 'test_multiple_content_types',
  title: 'Test: mixed content',
  description: 'Returns text, image and embedded resource content together.',
  annotations: FIXTURE,
  input: noArgs,
  run: async () => ({
    content: [
      { type: 'text', text: 'Multiple content types test:' },
      { type: 'image', data: TINY_PNG_BASE64, mimeType: 'image/png' },
      {
        type: 'resource',
        resource: {
          uri: 'test://mixed-content-resource',
          mimeType: 'application/json',
          text: JSON.stringify({ test: 'data', value: 123 }),
        },
      },
    ],
  }),
});

export const testToolWithLogging = defineTool({
  name: 'test_tool_with_logging',
  title: 'Test: logging',
  description: 'Sends three info log notifications while it runs.',
  annotations: FIXTURE,
  input: noArgs,
  run: async (_args, call) => {
    await call.log('info', 'Tool execution started');
    await delay(50, undefined, { signal: call.sdk.mcpReq.signal });
    await call.log('info', 'Tool processing data');
    await delay(50, undefined, { signal: call.sdk.mcpReq.signal });
    await call.log('info', 'Tool execution completed');
    return { content: [{ type: 'text', text: 'Tool with logging executed successfully' }] };
  },
});

export const testToolWithProgress = defineTool({
  name: 'test_tool_with_progress',
  title: 'Test: progress',
  description: 'Reports progress 0, 50 and 100 of 100 using the caller’s progress token.',
  annotations: FIXTURE,
  input: noArgs,
  run: async (_args, call) => {
    for (const progress of [0, 50, 100]) {
      if (progress > 0) await delay(50, undefined, { signal: call.sdk.mcpReq.signal });
      await call.progress(progress, 100);
    }
    return { content: [{ type: 'text', text: 'Tool with progress executed successfully' }] };
  },
});

export const testErrorHandling = defineTool({
  name: 'test_error_handling',
  title: 'Test: error result',
  description: 'Always fails with an isError result.',
  annotations: FIXTURE,
  input: noArgs,
  run: async () => toolError('This tool intentionally returns an error for testing'),
});

export const testSampling = defineTool({
  name: 'test_sampling',
  title: 'Test: sampling',
  description: 'Requests LLM sampling from the client and returns the answer.',
  annotations: ASKS_CLIENT,
  input: z.object({ prompt: z.string().describe('The prompt to send to the LLM') }),
  run: async ({ prompt }, call) => {
    const answer = sampledText(call, 'llm');
    if (!answer) return askSampling(call, 'llm', prompt, 100);
    return { content: [{ type: 'text', text: `LLM response: ${answer.text}` }] };
  },
});

/** Asks for `schema`, then reports the answer as the suite expects it (action and content). */
function elicitAndReport(call: ToolCall, message: string, schema: FormSchema, label: string): ToolOutcome {
  const result = elicited(call, 'form', schema);
  if (!result) return askForm(call, 'form', message, schema);
  return {
    content: [
      {
        type: 'text' as const,
        text: `${label}: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`,
      },
    ],
  };
}

export const testElicitation = defineTool({
  name: 'test_elicitation',
  title: 'Test: elicitation',
  description: 'Asks the user for a username and an email address.',
  annotations: ASKS_CLIENT,
  input: z.object({ message: z.string().describe('The message to show the user') }),
  run: async ({ message }, call) =>
    elicitAndReport(
      call,
      message,
      {
        type: 'object',
        properties: {
          username: { type: 'string', description: "User's response" },
          email: { type: 'string', description: "User's email address" },
        },
        required: ['username', 'email'],
      },
      'User response',
    ),
});

export const testElicitationDefaults = defineTool({
  name: 'test_elicitation_sep1034_defaults',
  title: 'Test: elicitation defaults (SEP-1034)',
  description: 'Elicits a form whose primitive fields all carry default values.',
  annotations: ASKS_CLIENT,
  input: noArgs,
  run: async (_args, call) =>
    elicitAndReport(
      call,
      'Please review and update the form fields with defaults',
      {
        type: 'object',
        properties: {
          name: { type: 'string', description: 'User name', default: 'John Doe' },
          age: { type: 'integer', description: 'User age', default: 30 },
          score: { type: 'number', description: 'User score', default: 95.5 },
          status: {
            type: 'string',
            description: 'User status',
            enum: ['active', 'inactive', 'pending'],
            default: 'active',
          },
          verified: { type: 'boolean', description: 'Verification status', default: true },
        },
        required: [],
      },
      'Elicitation completed',
    ),
});

export const testElicitationEnums = defineTool({
  name: 'test_elicitation_sep1330_enums',
  title: 'Test: elicitation enums (SEP-1330)',
  description:
    'Elicits a form with every enum variant: untitled/titled single, legacy enumNames, untitled/titled multi.',
  annotations: ASKS_CLIENT,
  input: noArgs,
  run: async (_args, call) =>
    elicitAndReport(
      call,
      'Please select options from the enum fields',
      {
        type: 'object',
        properties: {
          untitledSingle: {
            type: 'string',
            description: 'Untitled single-select',
            enum: ['option1', 'option2', 'option3'],
          },
          titledSingle: {
            type: 'string',
            description: 'Titled single-select',
            oneOf: [
              { const: 'value1', title: 'First Option' },
              { const: 'value2', title: 'Second Option' },
              { const: 'value3', title: 'Third Option' },
            ],
          },
          legacyEnum: {
            type: 'string',
            description: 'Legacy titled enum (deprecated enumNames)',
            enum: ['opt1', 'opt2', 'opt3'],
            enumNames: ['Option One', 'Option Two', 'Option Three'],
          },
          untitledMulti: {
            type: 'array',
            description: 'Untitled multi-select',
            items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
          },
          titledMulti: {
            type: 'array',
            description: 'Titled multi-select',
            items: {
              anyOf: [
                { const: 'value1', title: 'First Choice' },
                { const: 'value2', title: 'Second Choice' },
                { const: 'value3', title: 'Third Choice' },
              ],
            },
          },
        },
        required: [],
      },
      'Elicitation completed',
    ),
});

// JSON Schema 2020-12 (SEP-1613, SEP-2106): published exactly as written, with the vocabulary the
// suite checks survives tools/list: `$schema`, `$defs` (with an `$anchor`), `$ref`,
// `additionalProperties: false`, composition (`allOf`/`anyOf`) and conditionals (`if`/`then`/`else`).
export const jsonSchema202012Tool = defineJsonSchemaTool({
  name: 'json_schema_2020_12_tool',
  title: 'Test: JSON Schema 2020-12',
  description:
    'Tool with JSON Schema 2020-12 features ($schema, $defs/$anchor/$ref, allOf/anyOf, if/then/else, additionalProperties:false).',
  annotations: FIXTURE,
  inputSchema: {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    $defs: {
      address: {
        $anchor: 'addressDef',
        type: 'object',
        properties: { street: { type: 'string' }, city: { type: 'string' } },
      },
    },
    properties: {
      name: { type: 'string' },
      address: { $ref: '#/$defs/address' },
      contactMethod: { type: 'string', enum: ['phone', 'email'] },
      phone: { type: 'string' },
      email: { type: 'string' },
    },
    allOf: [{ anyOf: [{ required: ['phone'] }, { required: ['email'] }] }],
    if: { properties: { contactMethod: { const: 'phone' } }, required: ['contactMethod'] },
    then: { required: ['phone'] },
    else: { required: ['email'] },
    additionalProperties: false,
  },
  run: async (args) => ({ content: [{ type: 'text', text: `Received: ${JSON.stringify(args)}` }] }),
});

export const testReconnection = defineTool({
  name: 'test_reconnection',
  title: 'Test: SSE reconnection',
  description:
    'Closes its own SSE response stream mid-call (when the transport supports resumability) so the client reconnects with Last-Event-ID and gets the result on the resumed stream (SEP-1699).',
  annotations: FIXTURE,
  input: noArgs,
  run: async (_args, call) => {
    await delay(50, undefined, { signal: call.sdk.mcpReq.signal });
    call.sdk.http?.closeSSE?.();
    await delay(100, undefined, { signal: call.sdk.mcpReq.signal });
    return { content: [{ type: 'text', text: 'Reconnection test completed successfully' }] };
  },
});

export const CONFORMANCE_TOOLS = [
  testSimpleText,
  testImageContent,
  testAudioContent,
  testEmbeddedResource,
  testMultipleContentTypes,
  testToolWithLogging,
  testToolWithProgress,
  testErrorHandling,
  testSampling,
  testElicitation,
  testElicitationDefaults,
  testElicitationEnums,
  jsonSchema202012Tool,
  testReconnection,
];
