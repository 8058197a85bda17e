/**
 * Fixture tools of the tasks extension, named and shaped as the official conformance suite's
 * `tasks-*` scenarios require (@modelcontextprotocol/conformance 0.2.0-alpha.12): a slow
 * computation that can be cancelled, a tool error, a protocol error, tasks that wait for the
 * client once or for two answers at once, and a tool that gathers input before it becomes a task.
 * `greet`, the suite's sync-only counterpart, is in conformance.ts.
 */
import { setTimeout as delay } from 'node:timers/promises';
import {
  acceptedContent,
  inputRequired,
  inputResponse,
  ProtocolError,
  ProtocolErrorCode,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import { toolError } from './registry.js';
import { defineTaskTool } from './taskTool.js';

const WORKS = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };
const ASKS = { ...WORKS, idempotentHint: false, openWorldHint: true };

const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });

export const slowCompute = defineTaskTool({
  name: 'slow_compute',
  title: 'Slow computation',
  description:
    'Sleeps for `seconds` seconds, then answers. Runs as a task when the caller declared the tasks extension; a cancelled task stops at once.',
  annotations: WORKS,
  support: 'optional',
  input: z.object({
    seconds: z.number().int().min(0).max(3600).describe('How long the computation takes'),
    label: z.string().max(200).optional().describe('Echoed in the result'),
  }),
  run: async ({ seconds, label }, job) => {
    await delay(seconds * 1000, undefined, { signal: job.signal });
    return text(`Computed${label ? ` ${label}` : ''} in ${seconds} s`);
  },
});

export const failingJob = defineTaskTool({
  name: 'failing_job',
  title: 'Failing job',
  description: 'A task that runs for about a second, then reports a tool execution error (isError).',
  annotations: WORKS,
  support: 'required',
  input: z.object({}),
  run: async (_args, job) => {
    await delay(1000, undefined, { signal: job.signal });
    return toolError('failing_job failed on purpose: the tool ran and reported an error');
  },
});

export const protocolErrorJob = defineTaskTool({
  name: 'protocol_error_job',
  title: 'Protocol error job',
  description: 'A task that fails with a protocol-level error (the task ends `failed` with a JSON-RPC error).',
  annotations: WORKS,
  support: 'optional',
  input: z.object({}),
  run: async (_args, job) => {
    await delay(200, undefined, { signal: job.signal });
    throw new ProtocolError(
      ProtocolErrorCode.InternalError,
      'protocol_error_job failed on purpose with an internal error',
    );
  },
});

const CONFIRM_SCHEMA = {
  type: 'object' as const,
  properties: { confirm: { type: 'boolean' as const, title: 'Confirm' } },
  required: ['confirm'],
};
const NAME_SCHEMA = {
  type: 'object' as const,
  properties: { name: { type: 'string' as const, title: 'Name' } },
  required: ['name'],
};

function confirmed(responses: Parameters<typeof inputResponse>[0], key: string): boolean {
  const view = inputResponse(responses, key);
  return view.kind === 'elicit' && view.action === 'accept' && view.content?.['confirm'] === true;
}

export const confirmDelete = defineTaskTool({
  name: 'confirm_delete',
  title: 'Confirm, then delete',
  description:
    'A task that asks the user to confirm (elicitation) and waits for the answer, then reports what it did. Nothing is deleted.',
  annotations: ASKS,
  support: 'required',
  input: z.object({ filename: z.string().min(1).max(500).describe('The file to (pretend to) delete') }),
  run: async ({ filename }, job) => {
    const answers = await job.ask({
      confirm: inputRequired.elicit({ message: `Delete ${filename}?`, requestedSchema: CONFIRM_SCHEMA }),
    });
    return text(confirmed(answers, 'confirm') ? `Deleted ${filename}` : `Kept ${filename}`);
  },
});

export const multiInput = defineTaskTool({
  name: 'multi_input',
  title: 'Two questions at once',
  description: 'A task that asks two questions at once; each may be answered separately, and the task waits for both.',
  annotations: ASKS,
  support: 'required',
  input: z.object({}),
  run: async (_args, job) => {
    const answers = await job.ask({
      name: inputRequired.elicit({ message: 'What is your name?', requestedSchema: NAME_SCHEMA }),
      confirm: inputRequired.elicit({ message: 'Shall we proceed?', requestedSchema: CONFIRM_SCHEMA }),
    });
    const name = acceptedContent(answers, 'name', z.looseObject({ name: z.string() }))?.name ?? 'unknown';
    return text(`Name: ${name}; proceed: ${confirmed(answers, 'confirm') ? 'yes' : 'no'}`);
  },
});

export const testToolWithTask = defineTaskTool({
  name: 'test_tool_with_task',
  title: 'Test: input, then a task',
  description: 'Asks for your name (multi-round-trip request), then continues as a task whose result greets you.',
  annotations: ASKS,
  support: 'required',
  input: z.object({}),
  gather: (_args, responses) =>
    acceptedContent(responses, 'user_name', z.looseObject({ name: z.string() })) === undefined
      ? { user_name: inputRequired.elicit({ message: 'What is your name?', requestedSchema: NAME_SCHEMA }) }
      : undefined,
  run: async (_args, job) => {
    const name = acceptedContent(job.gathered, 'user_name', z.looseObject({ name: z.string() }))?.name ?? 'unknown';
    await delay(100, undefined, { signal: job.signal });
    return text(`Hello, ${name}! (from a task)`);
  },
});

export const TASK_TOOLS = [slowCompute, failingJob, protocolErrorJob, confirmDelete, multiInput, testToolWithTask];
