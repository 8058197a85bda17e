/**
 * Tools that can run as a task (the tasks extension, SEP-2663). A task tool is written once
 * against a `TaskJob` (tasks/runner.ts): its abort signal, the input gathered before the task
 * started, and `ask()` to wait for the client in the middle of the work. The same definition
 * serves three callers:
 *   - a 2026-07-28 request that declared the extension: the tool runs as a task (registry.ts);
 *   - any other caller of an `optional` task tool: it runs inside the call, like any tool, and an
 *     `ask()` there fails the call (only a task can wait for input across requests);
 *   - any other caller of a `required` one: refused (-32021 on 2026-07-28, an isError result on a
 *     2025 session, where this server does not offer the extension).
 */
import type { CallToolResult, InputRequests, InputResponses } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { ToolExecutionError } from '../errors.js';
import type { TaskJob } from '../tasks/runner.js';
import { TASKS_EXTENSION } from '../tasks/wire.js';
import { defineTool, toolError, type RegisteredTool, type ToolSpec } from './registry.js';

type AnyObject = z.ZodObject<z.ZodRawShape>;

export interface TaskToolSpec<I extends AnyObject> extends Pick<
  ToolSpec<I, undefined>,
  'name' | 'title' | 'description' | 'annotations' | 'icons' | 'input'
> {
  support: 'optional' | 'required';
  /**
   * Input the tool needs before a task can start, asked for while the call is still synchronous
   * (multi-round-trip requests); undefined once `responses` hold it all.
   */
  gather?(args: z.output<I>, responses: InputResponses | undefined): InputRequests | undefined;
  run(args: z.output<I>, job: TaskJob): Promise<CallToolResult>;
}

export function defineTaskTool<I extends AnyObject>(spec: TaskToolSpec<I>): RegisteredTool {
  const needsTask = `${spec.name} runs only as a task: call it with the ${TASKS_EXTENSION} extension declared (protocol revision 2026-07-28).`;
  const tool = defineTool({
    name: spec.name,
    title: spec.title,
    description: spec.description,
    annotations: spec.annotations,
    ...(spec.icons ? { icons: spec.icons } : {}),
    input: spec.input,
    run: async (args, call) => {
      if (spec.support === 'required') return toolError(needsTask);
      const job: TaskJob = {
        signal: call.sdk.mcpReq.signal,
        gathered: {},
        ask: async () => {
          throw new ToolExecutionError(`${spec.name} needs input from the client, which only a task can wait for.`);
        },
      };
      return spec.run(args, job);
    },
  });
  return {
    ...tool,
    task: {
      support: spec.support,
      begin(rawArgs, responses) {
        const args = spec.input.safeParse(rawArgs ?? {});
        if (!args.success)
          return {
            kind: 'invalid',
            result: toolError(`Invalid arguments for tool ${spec.name}: ${z.prettifyError(args.error)}`),
          };
        const inputRequests = spec.gather?.(args.data, responses);
        if (inputRequests) return { kind: 'input', inputRequests };
        return { kind: 'start', work: (job) => spec.run(args.data, job) };
      },
    },
  };
}
