/**
 * The protocol errors this server raises on purpose, as typed classes. They extend the SDK's
 * `McpError`, which `Protocol` serializes into the JSON-RPC error object (code, message, data), so
 * this file is the one place where our failures get their wire shape.
 */
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';

/** MCP 2025-11-25 server/resources §Error Handling: "Resource not found" is -32002. */
export const RESOURCE_NOT_FOUND = -32002;

export class ResourceNotFoundError extends McpError {
  constructor(readonly uri: string) {
    super(RESOURCE_NOT_FOUND, 'Resource not found', { uri });
    this.name = 'ResourceNotFoundError';
  }
}

/** MCP 2025-11-25 utilities/pagination §Error Handling: an invalid cursor SHOULD be -32602. */
export class InvalidCursorError extends McpError {
  constructor() {
    super(ErrorCode.InvalidParams, 'Invalid cursor');
    this.name = 'InvalidCursorError';
  }
}

/** MCP 2025-11-25 server/tools §Error Handling: an unknown tool is a protocol error (-32602). */
export class UnknownToolError extends McpError {
  constructor(readonly tool: string) {
    super(ErrorCode.InvalidParams, `Unknown tool: ${tool}`, { tool });
    this.name = 'UnknownToolError';
  }
}

/** MCP 2025-11-25 server/prompts §Error Handling: invalid prompt name or missing arguments → -32602. */
export class InvalidPromptError extends McpError {
  constructor(message: string) {
    super(ErrorCode.InvalidParams, message);
    this.name = 'InvalidPromptError';
  }
}

/** MCP 2025-11-25 server/utilities/completion §Error Handling: invalid reference → -32602. */
export class InvalidCompletionRefError extends McpError {
  constructor(message: string) {
    super(ErrorCode.InvalidParams, message);
    this.name = 'InvalidCompletionRefError';
  }
}

/**
 * A tool failure the caller should see verbatim (MCP 2025-11-25 server/tools: tool execution
 * errors are results with `isError: true`, not protocol errors).
 */
export class ToolExecutionError extends Error {
  override name = 'ToolExecutionError';
}
