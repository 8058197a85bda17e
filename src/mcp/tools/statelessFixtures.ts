/**
 * Diagnostic tools the conformance suite's `server-stateless` scenario names (SEP-2575,
 * @modelcontextprotocol/conformance 0.2.0-alpha.12), plus `greet`, the tasks scenarios' sync-only
 * tool. Each exercises one rule of the 2026-07-28 lane:
 *   - `test_missing_capability` needs sampling: called without the capability declared, the SDK
 *     refuses it with -32021 (HTTP 400) before anything is sent;
 *   - `test_streaming_elicitation` answers with nothing but its result (no server→client request
 *     ever rides a 2026-07-28 response stream);
 *   - `test_logging_tool` logs through the request, which the 2026-07-28 lane delivers only when
 *     the request's `_meta` asked for a log level;
 *   - `test_trigger_tool_change` / `test_trigger_prompt_change` announce a list change on the
 *     shared change bus, which every `subscriptions/listen` stream that asked for it receives,
 *     on every instance (and every 2025 session, as a list_changed notification);
 *   - `test_x_mcp_header` mirrors its `region` argument into the `Mcp-Param-Region` header
 *     (SEP-2243 `x-mcp-header`), which the SDK's entry checks against the body.
 */
import { inputRequired } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { defineTool } from './registry.js';

const FIXTURE = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };
const noArgs = z.object({});
const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });

export const greet = defineTool({
  name: 'greet',
  title: 'Greet',
  description: 'Returns "Hello, {name}!" at once (never runs as a task).',
  annotations: FIXTURE,
  input: z.object({ name: z.string().max(200).describe('Who to greet') }),
  run: async ({ name }) => text(`Hello, ${name}!`),
});

export const testMissingCapability = defineTool({
  name: 'test_missing_capability',
  title: 'Test: needs sampling',
  description:
    'Asks the client to sample (multi-round-trip request); refused with -32021 when the request did not declare sampling.',
  annotations: { ...FIXTURE, openWorldHint: true },
  input: noArgs,
  run: async (_args, call) => {
    if (call.sdk.mcpReq.inputResponses?.['llm_answer'] !== undefined) return text('Sampling round trip complete');
    return inputRequired({
      inputRequests: {
        llm_answer: inputRequired.createMessage({
          messages: [{ role: 'user', content: { type: 'text', text: 'Reply with: pong' } }],
          maxTokens: 16,
        }),
      },
    });
  },
});

export const testStreamingElicitation = defineTool({
  name: 'test_streaming_elicitation',
  title: 'Test: result-only stream',
  description: 'Answers with its result only: no server-to-client request on the response stream.',
  annotations: FIXTURE,
  input: noArgs,
  run: async () => text('Result only: no server-to-client requests on this stream'),
});

export const testLoggingTool = defineTool({
  name: 'test_logging_tool',
  title: 'Test: request-scoped logging',
  description: 'Logs one info message through the request; delivered only when the request set a log level.',
  annotations: FIXTURE,
  input: noArgs,
  run: async (_args, call) => {
    await call.log('info', 'test_logging_tool ran');
    return text('Logged through the request (delivered only when the request set a log level)');
  },
});

export const testTriggerToolChange = defineTool({
  name: 'test_trigger_tool_change',
  title: 'Test: announce a tools change',
  description: 'Announces notifications/tools/list_changed to every listener, on every instance.',
  annotations: { ...FIXTURE, idempotentHint: false },
  input: noArgs,
  run: async (_args, call) => {
    call.ctx.events.publish({ kind: 'tools_list_changed' });
    return text('tools/list_changed announced');
  },
});

export const testTriggerPromptChange = defineTool({
  name: 'test_trigger_prompt_change',
  title: 'Test: announce a prompts change',
  description: 'Announces notifications/prompts/list_changed to every listener, on every instance.',
  annotations: { ...FIXTURE, idempotentHint: false },
  input: noArgs,
  run: async (_args, call) => {
    call.ctx.events.publish({ kind: 'prompts_list_changed' });
    return text('prompts/list_changed announced');
  },
});

export const testXMcpHeader = defineTool({
  name: 'test_x_mcp_header',
  title: 'Test: argument mirrored in a header',
  description:
    'Its `region` argument travels in the Mcp-Param-Region header too (SEP-2243), so intermediaries can route on it.',
  annotations: FIXTURE,
  input: z.object({
    region: z
      .string()
      .max(100)
      .optional()
      .meta({ description: 'Mirrored into Mcp-Param-Region', 'x-mcp-header': 'Region' }),
    level: z.number().int().optional().describe('Not mirrored'),
  }),
  run: async ({ region }) => text(`region=${region ?? '<none>'}`),
});

export const STATELESS_FIXTURES = [
  greet,
  testMissingCapability,
  testStreamingElicitation,
  testLoggingTool,
  testTriggerToolChange,
  testTriggerPromptChange,
  testXMcpHeader,
];
