/**
 * tools/list and tools/call on the low-level Server. McpServer.registerTool cannot carry what the
 * 2025-11-25 surface needs: `icons` on tools, an inputSchema that keeps JSON Schema 2020-12
 * keywords (`$schema`, `$defs`; McpServer converts to draft-07), and the spec's -32602 for an
 * unknown tool (McpServer turns it into an `isError` result). So each tool is a small declarative
 * spec validated with zod, and this file maps outcomes onto the spec's two error channels:
 * protocol errors for unknown tools, `isError` results for everything that happened while running
 * one (server/tools §Error Handling; SEP-1303 puts input validation there too).
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type CallToolResult,
  type ServerNotification,
  type ServerRequest,
  type Tool,
  type ToolAnnotations,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { McpSessionContext } from '../context.js';
import { ToolExecutionError, UnknownToolError } from '../errors.js';
import { requestLogger, type RequestLogger } from '../logging.js';
import { paginate } from '../pagination.js';

export type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** What a running tool may use: the session, the request's stream, and the low-level server. */
export interface ToolCall {
  server: Server;
  ctx: McpSessionContext;
  extra: ToolExtra;
  /** `notifications/message` on this request's stream, filtered by the session's level. */
  log: RequestLogger;
  /** `notifications/progress` with the caller's token; a no-op when the caller sent none. */
  progress(progress: number, total?: number, message?: string): Promise<void>;
}

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
  run(args: z.output<I>, call: ToolCall): Promise<CallToolResult>;
}

export interface RegisteredTool {
  definition: Tool;
  invoke(rawArgs: unknown, call: ToolCall): Promise<CallToolResult>;
}

function jsonSchema(schema: AnyObject, io: 'input' | 'output', dialect?: ToolSpec<AnyObject, undefined>['dialect']) {
  const { $schema, ...rest } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    ...(dialect?.defs ? { metadata: dialect.defs } : {}),
  }) as Record<string, unknown>;
  return (dialect?.declare ? { $schema, ...rest } : rest) as Tool['inputSchema'];
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
      if (spec.output && !result.isError) {
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

export function installTools(server: Server, ctx: McpSessionContext, tools: readonly RegisteredTool[]): void {
  const byName = new Map(tools.map((t) => [t.definition.name, t]));
  server.registerCapabilities({ tools: { listChanged: false } });

  server.setRequestHandler(ListToolsRequestSchema, async (request) => {
    const page = paginate('tools', tools, request.params?.cursor, TOOL_PAGE_SIZE);
    return { tools: page.items.map((t) => t.definition), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  });

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const tool = byName.get(request.params.name);
    if (!tool) throw new UnknownToolError(request.params.name);
    const progressToken = request.params._meta?.progressToken;
    const call: ToolCall = {
      server,
      ctx,
      extra,
      log: requestLogger(ctx, extra, request.params.name),
      progress: async (progress, total, message) => {
        if (progressToken === undefined) return;
        await extra.sendNotification({
          method: 'notifications/progress',
          params: { progressToken, progress, ...(total !== undefined ? { total } : {}), ...(message ? { message } : {}) },
        });
      },
    };
    try {
      return await tool.invoke(request.params.arguments, call);
    } catch (err) {
      // URL-mode elicitation required (-32042) is the one failure the spec sends as a protocol
      // error from tools/call: the client must see the error's `elicitations` to act on them.
      if (err instanceof McpError && err.code === ErrorCode.UrlElicitationRequired) throw err;
      if (err instanceof ToolExecutionError || err instanceof McpError) return toolError(err.message);
      ctx.log.error({ err, tool: request.params.name, sessionId: ctx.sessionId }, 'tool failed');
      return toolError(`Tool ${request.params.name} failed unexpectedly`);
    }
  });
}
