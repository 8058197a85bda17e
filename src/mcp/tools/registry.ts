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
 */
import {
  ProtocolError,
  ProtocolErrorCode,
  SdkError,
  type CallToolResult,
  type InputRequiredResult,
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
    ...(spec.output ? { outputSchema: jsonSchema(spec.output, 'output') as Tool['outputSchema'] } : {}),
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
          call.ctx.log.error({ tool: spec.name, issues: out.error.issues }, 'tool returned structuredContent not matching its outputSchema');
          return toolError(`Tool ${spec.name} produced output that does not match its outputSchema`);
        }
      }
      return result;
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

export function installTools(server: Server, ctx: McpServerContext, tools: readonly RegisteredTool[]): void {
  const byName = new Map(tools.map((t) => [t.definition.name, t]));
  server.registerCapabilities({ tools: { listChanged: false } });

  server.setRequestHandler('tools/list', async (request) => {
    const page = paginate('tools', tools, request.params?.cursor, TOOL_PAGE_SIZE);
    return { tools: page.items.map((t) => t.definition), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  });

  server.setRequestHandler('tools/call', async (request, sdk): Promise<ToolOutcome> => {
    const tool = byName.get(request.params.name);
    if (!tool) throw new UnknownToolError(request.params.name);
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
          params: { progressToken, progress, ...(total !== undefined ? { total } : {}), ...(message ? { message } : {}) },
        });
      },
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
      if (err instanceof ToolExecutionError || err instanceof ProtocolError || err instanceof SdkError) return toolError(err.message);
      // A cancelled call is never answered (basic/utilities/cancellation): nothing went wrong.
      if (sdk.mcpReq.signal.aborted) return toolError('Cancelled');
      ctx.log.error({ err, tool: request.params.name, sessionId: ctx.session?.id }, 'tool failed');
      return toolError(`Tool ${request.params.name} failed unexpectedly`);
    }
  });
}
