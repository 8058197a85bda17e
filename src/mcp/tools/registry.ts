/**
 * tools/list and tools/call on the low-level Server. McpServer.registerTool cannot carry what the
 * 2025-11-25 surface needs: `icons` on tools, an inputSchema that keeps JSON Schema 2020-12
 * keywords exactly as published (`$schema`, `$defs`), and the spec's -32602 for an unknown tool
 * with our own message and data. So each tool is a small declarative spec validated with zod, and
 * this file maps outcomes onto the spec's two error channels: protocol errors for unknown tools,
 * `isError` results for everything that happened while running one (server/tools §Error
 * Handling; SEP-1303 puts input validation there too).
 *
 * A tool that needs the client (sampling, elicitation) returns `inputRequired(...)` (2026-07-28
 * multi-round-trip requests) and is re-entered with the answers: the SDK's legacy shim turns that
 * into real server→client requests on a 2025 session, related to the call so they ride its stream.
 *
 * A task-capable tool (taskTool.ts; the tasks extension, SEP-2663) called by a 2026-07-28 request
 * that declared the extension does not run inside the call: the call answers a CreateTaskResult
 * and the tool runs as a task (tasks/runner.ts). Without the declaration an optional-task tool
 * runs in the call as usual, and a task-only tool is refused with -32021.
 */
import {
  fromJsonSchema,
  inputRequired,
  ProtocolError,
  ProtocolErrorCode,
  SdkError,
  type CallToolResult,
  type InputRequests,
  type InputRequiredResult,
  type InputResponses,
  type JsonSchemaType,
  type Server,
  type ServerContext,
  type Tool,
  type ToolAnnotations,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { McpServerContext } from '../context.js';
import { ToolExecutionError, UnknownToolError } from '../errors.js';
import { requestLogger, type RequestLogger } from '../logging.js';
import { paginate } from '../pagination.js';
import type { TaskServices } from '../tasks/handlers.js';
import type { TaskWork } from '../tasks/runner.js';
import { createTaskResult, declaresTasks, tasksExtensionRequired } from '../tasks/wire.js';

/** What a running tool may use: who called, the request's SDK context, and the low-level server. */
export interface ToolCall {
  server: Server;
  ctx: McpServerContext;
  /** The SDK's handler context of this tools/call (`mcpReq.signal`, `mcpReq.inputResponses`, `http`…). */
  sdk: ServerContext;
  /** `notifications/message` on this request's stream, filtered by the caller's log level. */
  log: RequestLogger;
  /** `notifications/progress` with the caller's token; a no-op when the caller sent none. */
  progress(progress: number, total?: number, message?: string): Promise<void>;
  /** Seals `payload` as `requestState` for this caller and method (read back with `sdk.mcpReq.requestState()`). */
  mintState(payload: unknown): Promise<string>;
}

export type ToolOutcome = CallToolResult | InputRequiredResult;

type AnyObject = z.ZodObject<z.ZodRawShape>;

export interface ToolSpec<I extends AnyObject, O extends AnyObject | undefined> {
  name: string;
  title: string;
  description: string;
  annotations: ToolAnnotations;
  icons?: Tool['icons'];
  input: I;
  output?: O;
  /**
   * Publish `$schema` (and `$defs` registered in this registry) in inputSchema. Off by default:
   * the spec's default dialect is 2020-12 anyway, and draft-07 validators in some clients reject
   * the 2020-12 meta-schema URI.
   */
  dialect?: { declare: true; defs?: z.core.$ZodRegistry<{ id?: string }> };
  run(args: z.output<I>, call: ToolCall): Promise<ToolOutcome>;
}

export interface RegisteredTool {
  definition: Tool;
  invoke(rawArgs: unknown, call: ToolCall): Promise<ToolOutcome>;
  /** Present on tools that can run as a task (taskTool.ts). */
  task?: TaskEntry;
}

/** How a task-capable tool starts when the caller declared the tasks extension. */
export type TaskStart =
  /** The arguments were refused: an isError result, and no task. */
  | { kind: 'invalid'; result: CallToolResult }
  /** The tool needs the client's input before it can start (answered multi-round-trip style). */
  | { kind: 'input'; inputRequests: InputRequests }
  | { kind: 'start'; work: TaskWork };

export interface TaskEntry {
  support: 'optional' | 'required';
  begin(rawArgs: unknown, responses: InputResponses | undefined): TaskStart;
}

function jsonSchema(schema: AnyObject, io: 'input' | 'output', dialect?: ToolSpec<AnyObject, undefined>['dialect']) {
  const { $schema, ...rest } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    ...(dialect?.defs ? { metadata: dialect.defs } : {}),
  }) as Record<string, unknown>;
  return (dialect?.declare ? { $schema, ...rest } : rest) as Tool['inputSchema'];
}

function isInputRequired(outcome: ToolOutcome): outcome is InputRequiredResult {
  return (outcome as { resultType?: unknown }).resultType === 'input_required';
}

export function defineTool<I extends AnyObject, O extends AnyObject | undefined = undefined>(
  spec: ToolSpec<I, O>,
): RegisteredTool {
  const definition: Tool = {
    name: spec.name,
    title: spec.title,
    description: spec.description,
    inputSchema: jsonSchema(spec.input, 'input', spec.dialect),
    ...(spec.output ? { outputSchema: jsonSchema(spec.output, 'output') } : {}),
    annotations: { title: spec.title, ...spec.annotations },
    ...(spec.icons ? { icons: spec.icons } : {}),
  };
  return {
    definition,
    async invoke(rawArgs, call) {
      const args = spec.input.safeParse(rawArgs ?? {});
      if (!args.success) return toolError(`Invalid arguments for tool ${spec.name}: ${z.prettifyError(args.error)}`);
      const result = await spec.run(args.data, call);
      if (spec.output && !isInputRequired(result) && !result.isError) {
        const out = spec.output.safeParse(result.structuredContent);
        if (!out.success) {
          call.ctx.log.error(
            { tool: spec.name, issues: out.error.issues },
            'tool returned structuredContent not matching its outputSchema',
          );
          return toolError(`Tool ${spec.name} produced output that does not match its outputSchema`);
        }
      }
      return result;
    },
  };
}

/**
 * A tool whose inputSchema is published exactly as written, for the JSON Schema 2020-12
 * vocabulary zod cannot express (`$anchor`, `if`/`then`/`else`, composition at the root).
 * Arguments are checked against the same schema by the SDK's JSON Schema validator.
 */
export function defineJsonSchemaTool(
  spec: Omit<ToolSpec<AnyObject, undefined>, 'input' | 'output' | 'dialect' | 'run'> & {
    inputSchema: Tool['inputSchema'];
    run(args: Record<string, unknown>, call: ToolCall): Promise<ToolOutcome>;
  },
): RegisteredTool {
  const validator = fromJsonSchema<Record<string, unknown>>(spec.inputSchema as JsonSchemaType);
  return {
    definition: {
      name: spec.name,
      title: spec.title,
      description: spec.description,
      inputSchema: spec.inputSchema,
      annotations: { title: spec.title, ...spec.annotations },
      ...(spec.icons ? { icons: spec.icons } : {}),
    },
    async invoke(rawArgs, call) {
      const checked = await validator['~standard'].validate(rawArgs ?? {});
      if (checked.issues)
        return toolError(`Invalid arguments for tool ${spec.name}: ${checked.issues.map((i) => i.message).join('; ')}`);
      return spec.run(checked.value, call);
    },
  };
}

export function toolError(message: string): CallToolResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}

/** A result carrying `structuredContent` plus the same JSON as text (server/tools §Structured Content). */
export function structuredResult<T extends Record<string, unknown>>(data: T): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(data) }], structuredContent: data };
}

export const TOOL_PAGE_SIZE = 50;

// A 2026-07-28 request builds a server of its own, so the index is built once per tool list, not per request.
const indexes = new WeakMap<readonly RegisteredTool[], Map<string, RegisteredTool>>();
function indexByName(tools: readonly RegisteredTool[]): Map<string, RegisteredTool> {
  let index = indexes.get(tools);
  if (!index) indexes.set(tools, (index = new Map(tools.map((t) => [t.definition.name, t]))));
  return index;
}

export function installTools(server: Server, ctx: McpServerContext, tools: readonly RegisteredTool[]): void {
  const byName = indexByName(tools);
  // listChanged: the list is fixed, but test_trigger_tool_change announces a change (conformance).
  server.registerCapabilities({ tools: { listChanged: true } });

  server.setRequestHandler('tools/list', async (request) => {
    const page = paginate('tools', tools, request.params?.cursor, TOOL_PAGE_SIZE);
    return { tools: page.items.map((t) => t.definition), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  });

  server.setRequestHandler('tools/call', async (request, sdk): Promise<ToolOutcome> => {
    const tool = byName.get(request.params.name);
    if (!tool) throw new UnknownToolError(request.params.name);
    if (tool.task && ctx.tasks) {
      if (declaresTasks(sdk))
        return startTask(tool.definition.name, tool.task, request.params.arguments, sdk, ctx.tasks);
      if (tool.task.support === 'required') throw tasksExtensionRequired();
    }
    const progressToken = request.params._meta?.progressToken;
    const call: ToolCall = {
      server,
      ctx,
      sdk,
      log: requestLogger(ctx, sdk, request.params.name),
      progress: async (progress, total, message) => {
        if (progressToken === undefined) return;
        await sdk.mcpReq.notify({
          method: 'notifications/progress',
          params: {
            progressToken,
            progress,
            ...(total !== undefined ? { total } : {}),
            ...(message ? { message } : {}),
          },
        });
      },
      mintState: (payload) => ctx.requestState.mint(payload, sdk),
    };
    try {
      const outcome = await tool.invoke(request.params.arguments, call);
      // The codec's per-revision projection of structured output (SEP-2106), kept in one place.
      return isInputRequired(outcome) ? outcome : server.projectCallToolResult(outcome, tool.definition.outputSchema);
    } catch (err) {
      // URL-mode elicitation required (-32042) is the one failure the spec sends as a protocol
      // error from tools/call: the client must see the error's `elicitations` to act on them.
      if (err instanceof ProtocolError && err.code === ProtocolErrorCode.UrlElicitationRequired) throw err;
      // Failures of the exchange with the client (refused capability, timeout, closed session)
      // are the tool's failure, reported to the caller like any other.
      if (err instanceof ToolExecutionError || err instanceof ProtocolError || err instanceof SdkError)
        return toolError(err.message);
      // A cancelled call is never answered (basic/utilities/cancellation): nothing went wrong.
      if (sdk.mcpReq.signal.aborted) return toolError('Cancelled');
      ctx.log.error({ err, tool: request.params.name, sessionId: ctx.session?.id }, 'tool failed');
      return toolError(`Tool ${request.params.name} failed unexpectedly`);
    }
  });
}

/** A task-capable tool called with the extension declared: a task, once it has what it needs. */
async function startTask(
  name: string,
  task: TaskEntry,
  rawArgs: unknown,
  sdk: ServerContext,
  tasks: TaskServices,
): Promise<ToolOutcome> {
  const begun = task.begin(rawArgs, sdk.mcpReq.inputResponses as InputResponses | undefined);
  switch (begun.kind) {
    case 'invalid':
      return begun.result;
    case 'input':
      return inputRequired({ inputRequests: begun.inputRequests });
    case 'start': {
      const gathered = (sdk.mcpReq.inputResponses ?? {}) as InputResponses;
      return createTaskResult(await tasks.runner.start(tasks.ownerOf(sdk), name, begun.work, gathered));
    }
  }
}
