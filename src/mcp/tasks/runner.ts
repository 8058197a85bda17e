/**
 * Runs task tools on this instance (its "worker" side of the tasks extension). A task is created
 * durably in the shared store before the CreateTaskResult leaves, then the tool runs here, in the
 * background, while any instance answers tasks/get, tasks/update and tasks/cancel from the store:
 *   - the worker renews its lease while the tool runs or waits; if this process dies, the lease
 *     lapses and the next reader fails the task with a defined error (store.ts, WORKER_LOST);
 *   - a cancellation recorded anywhere reaches this instance as a signal and aborts the tool;
 *   - a tool that needs the client parks the task as `input_required`; answers arriving through
 *     tasks/update on any instance are stored, signalled here and collected. Pub/sub delivers at
 *     most once, so a waiting task also re-checks the store now and then in case a signal was lost.
 * The outcome is written only if the task is still unfinished: a cancelled task stays cancelled.
 */
import { randomBytes } from 'node:crypto';
import {
  ProtocolError,
  type CallToolResult,
  type InputRequests,
  type InputResponses,
} from '@modelcontextprotocol/server';
import type { Logger } from '../../observability/logger.js';
import type { TaskSignal, TaskStore } from './store.js';
import type { TaskError, TaskRecord } from './wire.js';

/** What a task tool's code gets while it runs as a task. */
export interface TaskJob {
  /** Aborted when the task is cancelled (on any instance), its worker loses its lease or stops. */
  signal: AbortSignal;
  /** The answers gathered by multi-round-trip requests before the task was created. */
  gathered: InputResponses;
  /** Parks the task as `input_required` with these requests; resolves once all are answered. */
  ask(requests: InputRequests): Promise<InputResponses>;
}

export type TaskWork = (job: TaskJob) => Promise<CallToolResult>;

export interface TaskRunnerOptions {
  /** How long a finished task stays readable (and an unfinished one, after its last change). */
  ttlMs: number;
  /** The polling interval suggested to clients. */
  pollIntervalMs: number;
  /** Lease of a worker; renewed every third of it. */
  leaseMs: number;
  /** Tasks this instance runs at once; more are refused. */
  maxRunning: number;
  /** How often a task waiting for input re-reads the store in case a signal was lost. */
  recheckMs?: number;
}

/** Too many tasks on this instance: a server error the client may retry (elsewhere). */
export class TaskCapacityError extends ProtocolError {
  constructor(max: number) {
    super(-32000, `This instance already runs ${max} tasks; retry later`);
    this.name = 'TaskCapacityError';
  }
}

interface Running {
  owner: string;
  taskId: string;
  abort: AbortController;
  /** A signal arrived since the task last looked for answers. */
  woken: boolean;
  /** Wakes a task waiting for input. */
  wake?: () => void;
}

const key = (owner: string, taskId: string) => `${owner}.${taskId}`;

export class TaskRunner {
  private readonly running = new Map<string, Running>();
  private stopping = false;

  constructor(
    private readonly store: TaskStore,
    private readonly options: TaskRunnerOptions,
    private readonly log: Logger,
  ) {
    store.onSignal((signal) => this.onSignal(signal));
  }

  get runningCount(): number {
    return this.running.size;
  }

  /** Creates the task (durably) and starts `work` on this instance; resolves with the new task. */
  async start(owner: string, tool: string, work: TaskWork, gathered: InputResponses = {}): Promise<TaskRecord> {
    if (this.stopping || this.running.size >= this.options.maxRunning)
      throw new TaskCapacityError(this.options.maxRunning);
    const taskId = randomBytes(16).toString('base64url');
    const task = await this.store.create({
      owner,
      taskId,
      tool,
      createdAt: Date.now(),
      ttlMs: this.options.ttlMs,
      pollIntervalMs: this.options.pollIntervalMs,
      leaseMs: this.options.leaseMs,
    });
    const entry: Running = { owner, taskId, abort: new AbortController(), woken: false };
    this.running.set(key(owner, taskId), entry);
    this.log.debug({ taskId, tool }, 'task started');
    void this.execute(owner, taskId, tool, work, gathered, entry);
    return task;
  }

  /** Graceful stop: the tasks running here cannot move elsewhere, so they fail now, saying why. */
  async stop(): Promise<void> {
    this.stopping = true;
    const stopped: TaskError = {
      code: -32603,
      message: 'The instance running this task shut down before it finished; start it again',
      data: { reason: 'worker_stopped' },
    };
    await Promise.all(
      [...this.running.values()].map(async (entry) => {
        await this.store.settle(entry.owner, entry.taskId, { status: 'failed', error: stopped }).catch(() => undefined);
        entry.abort.abort(new Error('worker stopped'));
      }),
    );
  }

  /** The process is going away abruptly (tests of instance loss): stop the work, write nothing. */
  abandon(): void {
    this.stopping = true;
    for (const entry of this.running.values()) entry.abort.abort(new Error('worker abandoned'));
  }

  private async execute(
    owner: string,
    taskId: string,
    tool: string,
    work: TaskWork,
    gathered: InputResponses,
    entry: Running,
  ): Promise<void> {
    const { signal } = entry.abort;
    const renew = setInterval(
      () => {
        this.store.renewLease(owner, taskId, this.options.leaseMs).then(
          (alive) => {
            // Finished elsewhere (cancelled) or declared lost: nobody waits for this run any more.
            if (!alive) entry.abort.abort(new Error('task no longer running'));
          },
          (err: Error) => this.log.warn({ err: err.message, taskId }, 'task lease renewal failed'),
        );
      },
      Math.max(1, Math.floor(this.options.leaseMs / 3)),
    );
    renew.unref();
    const job: TaskJob = { signal, gathered, ask: (requests) => this.ask(owner, taskId, requests, entry) };
    try {
      const result = await work(job);
      if (!signal.aborted) await this.store.settle(owner, taskId, { status: 'completed', result });
    } catch (err) {
      // An aborted run ended because the task was cancelled, lost or stopped: its status says so.
      if (!signal.aborted)
        await this.store.settle(owner, taskId, { status: 'failed', error: taskError(err, this.log, taskId, tool) });
    } finally {
      clearInterval(renew);
      this.running.delete(key(owner, taskId));
    }
  }

  private async ask(owner: string, taskId: string, requests: InputRequests, entry: Running): Promise<InputResponses> {
    const answers: InputResponses = {};
    const missing = () => Object.keys(requests).filter((k) => !(k in answers));
    if (!(await this.store.ask(owner, taskId, requests))) throw new Error('task is no longer running');
    const { signal } = entry.abort;
    for (;;) {
      // Look first, then sleep: an answer stored before this task started waiting is not missed.
      entry.woken = false;
      Object.assign(answers, await this.store.takeAnswers(owner, taskId, missing()));
      if (missing().length === 0) return answers;
      signal.throwIfAborted();
      if (!entry.woken) await this.sleep(entry);
    }
  }

  /** Until a signal for this task arrives, the re-check period passes, or the task is aborted. */
  private sleep(entry: Running): Promise<void> {
    const { signal } = entry.abort;
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        entry.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.options.recheckMs ?? 5000);
      signal.addEventListener('abort', done, { once: true });
      entry.wake = done;
    });
  }

  private onSignal(signal: TaskSignal): void {
    const entry = this.running.get(key(signal.owner, signal.taskId));
    if (!entry) return;
    if (signal.kind === 'cancel') return entry.abort.abort(new Error('task cancelled'));
    entry.woken = true;
    entry.wake?.();
  }
}

/** A protocol-level failure as the task's `error` (SEP-2663: `failed` carries a JSON-RPC error). */
function taskError(err: unknown, log: Logger, taskId: string, tool: string): TaskError {
  if (err instanceof ProtocolError)
    return { code: err.code, message: err.message, ...(err.data !== undefined ? { data: err.data } : {}) };
  log.error({ err, taskId, tool }, 'task failed unexpectedly');
  return { code: -32603, message: `Task ${tool} failed unexpectedly` };
}
