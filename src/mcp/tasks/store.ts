/**
 * What the tasks extension needs from storage, shared by every instance (the Redis
 * implementation is routing/taskStore.ts): a task started on one instance is read, answered and
 * cancelled through any other. Every task belongs to an owner (`u`: the user AND the OAuth client
 * of the token that created it, as for sessions); an id under another owner is simply unknown.
 *
 * Liveness: the instance running a task (its worker) holds a lease it renews while the tool runs
 * or waits for input. A task whose lease lapsed before it finished is failed the next time anyone
 * reads it: its worker is gone (killed, partitioned, or stopped), and the work, which lived in
 * that process, cannot be resumed elsewhere.
 */
import type { CallToolResult, InputRequests } from '@modelcontextprotocol/server';
import type { TaskError, TaskRecord } from './wire.js';

export interface NewTask {
  owner: string;
  taskId: string;
  /** Tool name, for logs and operators. */
  tool: string;
  createdAt: number;
  ttlMs: number;
  pollIntervalMs: number;
  leaseMs: number;
}

export type TaskOutcome =
  { status: 'completed'; result: CallToolResult } | { status: 'failed'; error: TaskError } | { status: 'cancelled' };

/** A message to the instance running a task: it was cancelled, or input it waits for arrived. */
export interface TaskSignal {
  owner: string;
  taskId: string;
  kind: 'cancel' | 'input';
}

/** The error a task gets when its worker's lease lapses (documented in docs/architecture.md). */
export const WORKER_LOST: TaskError = {
  code: -32603,
  message: 'The instance running this task stopped before the task finished (its lease expired); start it again',
  data: { reason: 'worker_lost' },
};

export interface TaskStore {
  /** Records a new `working` task run by this instance; durable when it resolves. */
  create(task: NewTask): Promise<TaskRecord>;
  /** The task, or undefined when this owner has no such task (unknown, foreign or expired). */
  read(owner: string, taskId: string): Promise<TaskRecord | undefined>;
  /** Moves an unfinished task to its outcome; false if it had already finished (or vanished). */
  settle(owner: string, taskId: string, outcome: TaskOutcome): Promise<boolean>;
  /** Cancels an unfinished task and tells its worker; a finished one is left as it is. */
  cancel(owner: string, taskId: string): Promise<'cancelled' | 'finished' | 'unknown'>;
  /** Parks an unfinished task as `input_required` with these pending requests. */
  ask(owner: string, taskId: string, requests: InputRequests): Promise<boolean>;
  /** Stores the responses to pending requests (others are ignored) and tells the worker. */
  answer(owner: string, taskId: string, responses: Record<string, unknown>): Promise<'answered' | 'unknown'>;
  /** Removes and returns the stored responses among `keys` (the worker collecting its input). */
  takeAnswers(owner: string, taskId: string, keys: readonly string[]): Promise<Record<string, unknown>>;
  /** Extends the worker's lease; false when the task finished or was already declared lost. */
  renewLease(owner: string, taskId: string, leaseMs: number): Promise<boolean>;
  /** Signals addressed to this instance's tasks. */
  onSignal(handler: (signal: TaskSignal) => void): void;
}
