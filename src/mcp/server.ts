/**
 * The transport-agnostic MCP server: a factory that builds one `McpServer` per session with every
 * tool, resource and prompt registered. Streamable HTTP (through Redis), legacy SSE and stdio all
 * connect the same server to their own `Transport`.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { Logger } from '../observability/logger.js';
import type { SessionState } from './sessionState.js';

export interface McpSessionContext {
  /** Session id ('stdio' for the stdio transport). */
  sessionId: string;
  /** Verified user id owning the session. */
  userId: string;
  state: SessionState;
  log: Logger;
}

export const SERVER_INFO = { name: 'mcp-scaled-server', title: 'MCP everything server (scaled)', version: '0.1.0' };

export function createMcpServer(ctx: McpSessionContext): McpServer {
  const server = new McpServer(SERVER_INFO, {
    capabilities: { tools: {}, logging: {} },
    instructions: 'Reference MCP server exercising every protocol feature, horizontally scaled through Redis.',
  });

  server.registerTool(
    'echo',
    {
      title: 'Echo',
      description: 'Echoes back the input message.',
      inputSchema: { message: z.string().describe('Message to echo') },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ message }) => ({ content: [{ type: 'text', text: `Echo: ${message}` }] }),
  );

  void ctx;
  return server;
}
