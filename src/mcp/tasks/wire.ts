/**
 * The tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663) on the wire: identifiers, the
 * request params, and the two result shapes, in one file.
 *
 * - A task-creating `tools/call` answers a flat `CreateTaskResult` (`Result & Task`):
 *   `resultType: "task"`, `taskId`, `status`, `createdAt`, `lastUpdatedAt`, `ttlMs`,
 *   `pollIntervalMs` at the top level; no `result`, `error`, `inputRequests` or `requestState`.
 * - `tasks/get` answers the DetailedTask: the same fields, plus the tool's `result` once
 *   completed, the JSON-RPC `error` once failed, and the pending `inputRequests` while the task
 *   waits for the client (`input_required`). There is no `tasks/result` and no `tasks/list` in
 *   this revision of the extension (the SDK answers both with -32601).
 * - `tasks/update` (input responses) and `tasks/cancel` answer an empty result (the SDK stamps
 *   `resultType: "complete"`).
 * - Without the extension in the request's `_meta` client capabilities, `tasks/*` are refused with
 *   -32021 naming the extension; so is a tool that can only run as a task.
 */
import {
  MissingRequiredClientCapabilityError,
  type CallToolResult,
  type InputRequests,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import { declaredCapabilities } from '../envelope.js';

export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

export type TaskStatus = 'working' | 'input_required' | 'completed' | 'failed' | 'cancelled';

/** A JSON-RPC error object, as a failed task carries it. */
export interface TaskError {
  code: number;
  message: string;
  data?: unknown;
}

/** A task as the store holds it (times in epoch ms). */
export interface TaskRecord {
  taskId: string;
  status: TaskStatus;
  createdAt: number;
  lastUpdatedAt: number;
  ttlMs: number;
  pollIntervalMs: number;
  statusMessage?: string;
  result?: CallToolResult;
  error?: TaskError;
  inputRequests?: InputRequests;
}

const TaskId = z.string().min(1).max(128);
export const GetTaskParams = z.looseObject({ taskId: TaskId });
export const CancelTaskParams = z.looseObject({ taskId: TaskId });
/**
 * `inputResponses` is not among the params a handler sees: the SDK lifts it (the multi-round-trip
 * retry field) to `ctx.mcpReq.inputResponses`, keeping only well-formed entries.
 */
export const UpdateTaskParams = z.looseObject({ taskId: TaskId });
/** Results are built here and only shaped loosely for the SDK's typing of custom methods. */
export const TaskResult = z.looseObject({});

function taskFields(task: TaskRecord) {
  return {
    taskId: task.taskId,
    status: task.status,
    ...(task.statusMessage ? { statusMessage: task.statusMessage } : {}),
    createdAt: new Date(task.createdAt).toISOString(),
    lastUpdatedAt: new Date(task.lastUpdatedAt).toISOString(),
    ttlMs: task.ttlMs,
    pollIntervalMs: task.pollIntervalMs,
  };
}

/** What a task-creating tools/call answers. */
export function createTaskResult(task: TaskRecord): CallToolResult {
  // `resultType` is an open union on the 2026-07-28 wire: the SDK passes "task" through verbatim.
  return { resultType: 'task', ...taskFields(task) } as unknown as CallToolResult;
}

/** What tasks/get answers: the task, and its outcome or pending input. */
export function detailedTask(task: TaskRecord): Record<string, unknown> {
  return {
    ...taskFields(task),
    ...(task.status === 'completed' && task.result ? { result: task.result } : {}),
    ...(task.status === 'failed' && task.error ? { error: task.error } : {}),
    ...(task.status === 'input_required' && task.inputRequests ? { inputRequests: task.inputRequests } : {}),
  };
}

/** Whether this request declared the extension (per request, in its `_meta` client capabilities). */
export function declaresTasks(sdk: ServerContext): boolean {
  const extensions = declaredCapabilities(sdk).extensions as Record<string, unknown> | undefined;
  return extensions?.[TASKS_EXTENSION] !== undefined;
}

/** -32021, naming the extension (SEP-2663 "Required Capabilities"); the SDK answers it with HTTP 400. */
export function tasksExtensionRequired(): MissingRequiredClientCapabilityError {
  return new MissingRequiredClientCapabilityError({ requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } });
}
