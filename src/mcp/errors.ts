/**
 * The protocol errors this server raises on purpose, as typed classes. They extend the SDK's
 * `ProtocolError`, which the SDK serializes into the JSON-RPC error object (code, message, data),
 * so this file is the one place where our failures get their wire shape.
 */
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';

/**
 * MCP 2025-11-25 server/resources §Error Handling: "Resource not found" is -32002. SDK v2 encodes
 * this code as -32602 on every revision (SEP-2164 moved 2026-07-28 to -32602); the sessionful
 * 2025 lane puts -32002 back on its wire (see legacyWire.ts).
 */
export const RESOURCE_NOT_FOUND = -32002;

export class ResourceNotFoundError extends ProtocolError {
  constructor(readonly uri: string) {
    // `data` is exactly `{ uri }`: the shape both SDK generations recognise as resource-not-found.
    super(RESOURCE_NOT_FOUND, 'Resource not found', { uri });
    this.name = 'ResourceNotFoundError';
  }
}

/** MCP 2025-11-25 utilities/pagination §Error Handling: an invalid cursor SHOULD be -32602. */
export class InvalidCursorError extends ProtocolError {
  constructor() {
    super(ProtocolErrorCode.InvalidParams, 'Invalid cursor');
    this.name = 'InvalidCursorError';
  }
}

/** MCP 2025-11-25 server/tools §Error Handling: an unknown tool is a protocol error (-32602). */
export class UnknownToolError extends ProtocolError {
  constructor(readonly tool: string) {
    super(ProtocolErrorCode.InvalidParams, `Unknown tool: ${tool}`, { tool });
    this.name = 'UnknownToolError';
  }
}

/** MCP 2025-11-25 server/prompts §Error Handling: invalid prompt name or missing arguments → -32602. */
export class InvalidPromptError extends ProtocolError {
  constructor(message: string) {
    super(ProtocolErrorCode.InvalidParams, message);
    this.name = 'InvalidPromptError';
  }
}

/** MCP 2025-11-25 server/utilities/completion §Error Handling: invalid reference → -32602. */
export class InvalidCompletionRefError extends ProtocolError {
  constructor(message: string) {
    super(ProtocolErrorCode.InvalidParams, message);
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

/**
 * Tasks extension (SEP-2663): an unknown task id is -32602, for tasks/get, tasks/update and
 * tasks/cancel alike. A task owned by someone else is unknown too: nothing tells them apart.
 */
export class UnknownTaskError extends ProtocolError {
  constructor(readonly taskId: string) {
    super(ProtocolErrorCode.InvalidParams, 'Unknown task', { taskId });
    this.name = 'UnknownTaskError';
  }
}
