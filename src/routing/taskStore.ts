/**
 * Tasks of the tasks extension in Redis (the contract is src/mcp/tasks/store.ts). One hash per
 * task, `Keyspace.task(u, id)`, and the worker's lease next to it (`Keyspace.taskLease`); both
 * names share one hash tag, so each script below touches a single Cluster slot.
 *
 * Hash fields: `status`, `tool`, `worker` (instance id), `createdAt`, `lastUpdatedAt`, `ttlMs`,
 * `pollIntervalMs`, then `result` or `error` (JSON) once finished, and while the task waits for
 * the client one `ask:<key>` per pending input request and one `resp:<key>` per response not yet
 * collected by the worker. Values stay opaque JSON strings inside the scripts (Lua's cjson would
 * turn `[]` into `{}`). Every state change is a script, so a change never lands on a finished
 * task: a cancelled task stays cancelled whatever its worker does next.
 *
 * Lifetime: the hash expires `ttlMs` after its last change (SEP-2663: a task stays readable for
 * its ttlMs); the lease expires unless the worker renews it. Signals to a worker (cancel, input
 * arrived) go to that instance's channel on the shared subscriber, one subscription per instance.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Logger } from '../observability/logger.js';
import type { Keyspace } from '../redis/keys.js';
import { WORKER_LOST, type NewTask, type TaskOutcome, type TaskSignal, type TaskStore } from '../mcp/tasks/store.js';
import type { TaskRecord } from '../mcp/tasks/wire.js';
import type { Bus } from './bus.js';

const UNFINISHED = `local function unfinished(s) return s == 'working' or s == 'input_required' end
local function dropInput(key)
  for _, f in ipairs(redis.call('HKEYS', key)) do
    if string.sub(f, 1, 4) == 'ask:' or string.sub(f, 1, 5) == 'resp:' then redis.call('HDEL', key, f) end
  end
end
local function touch(key, now)
  redis.call('HSET', key, 'lastUpdatedAt', now)
  redis.call('PEXPIRE', key, redis.call('HGET', key, 'ttlMs'))
end
`;

// KEYS: task, lease. ARGV: worker-lost error JSON, now. The task (fields), failing it first when
// it is unfinished and its worker's lease has lapsed.
const READ = `${UNFINISHED}
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return nil end
if unfinished(status) and redis.call('EXISTS', KEYS[2]) == 0 then
  dropInput(KEYS[1])
  redis.call('HSET', KEYS[1], 'status', 'failed', 'error', ARGV[1])
  touch(KEYS[1], ARGV[2])
end
return redis.call('HGETALL', KEYS[1])`;

// KEYS: task, lease. ARGV: status, field ('' = none), value, now. -1 unknown, 0 already
// finished, else the worker's instance id.
const SETTLE = `${UNFINISHED}
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return -1 end
if not unfinished(status) then return 0 end
dropInput(KEYS[1])
redis.call('HSET', KEYS[1], 'status', ARGV[1])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) end
redis.call('DEL', KEYS[2])
touch(KEYS[1], ARGV[4])
return redis.call('HGET', KEYS[1], 'worker')`;

// KEYS: task. ARGV: now, then key/request pairs. 1 parked, 0 not (finished or unknown).
const ASK = `${UNFINISHED}
local status = redis.call('HGET', KEYS[1], 'status')
if not status or not unfinished(status) then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], 'ask:' .. ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'status', 'input_required')
touch(KEYS[1], ARGV[1])
return 1`;

// KEYS: task. ARGV: now, then key/response pairs. -1 unknown, 0 nothing pending was answered,
// else the worker's instance id. Responses to keys that are not pending are ignored.
const ANSWER = `${UNFINISHED}
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return -1 end
if status ~= 'input_required' then return 0 end
local answered = 0
for i = 2, #ARGV, 2 do
  if redis.call('HDEL', KEYS[1], 'ask:' .. ARGV[i]) == 1 then
    redis.call('HSET', KEYS[1], 'resp:' .. ARGV[i], ARGV[i + 1])
    answered = answered + 1
  end
end
if answered == 0 then return 0 end
local pending = 0
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(f, 1, 4) == 'ask:' then pending = pending + 1 end
end
if pending == 0 then redis.call('HSET', KEYS[1], 'status', 'working') end
touch(KEYS[1], ARGV[1])
return redis.call('HGET', KEYS[1], 'worker')`;

// KEYS: task. ARGV: keys. The stored responses of those keys (nil where none), removed.
const TAKE = `
local fields = {}
for i = 1, #ARGV do fields[i] = 'resp:' .. ARGV[i] end
local values = redis.call('HMGET', KEYS[1], unpack(fields))
redis.call('HDEL', KEYS[1], unpack(fields))
return values`;

// KEYS: task, lease. ARGV: lease ms, worker. 1 renewed, 0 the task is finished (or gone).
const RENEW = `${UNFINISHED}
local status = redis.call('HGET', KEYS[1], 'status')
if not status or not unfinished(status) then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[1])
return 1`;

const Json = z.string().transform((s, ctx) => {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'not JSON' });
    return z.NEVER;
  }
});
const RecordSchema = z.object({
  status: z.enum(['working', 'input_required', 'completed', 'failed', 'cancelled']),
  createdAt: z.coerce.number(),
  lastUpdatedAt: z.coerce.number(),
  ttlMs: z.coerce.number(),
  pollIntervalMs: z.coerce.number(),
  result: Json.pipe(z.looseObject({ content: z.array(z.unknown()) })).optional(),
  error: Json.pipe(z.object({ code: z.number(), message: z.string(), data: z.unknown().optional() })).optional(),
});
const SignalSchema = z.object({ o: z.string(), t: z.string(), k: z.enum(['cancel', 'input']) });

export class RedisTaskStore implements TaskStore {
  private handler: ((signal: TaskSignal) => void) | undefined;
  private unsubscribe: (() => Promise<void>) | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly bus: Bus,
    private readonly keys: Keyspace,
    private readonly instanceId: string,
    private readonly log: Logger,
  ) {}

  /** Subscribes this instance's signal channel. */
  async start(): Promise<void> {
    this.unsubscribe = await this.bus.subscribe(this.keys.taskSignals(this.instanceId), (payload) => {
      const parsed = SignalSchema.safeParse(safeJson(payload));
      if (!parsed.success) return this.log.warn('malformed task signal dropped');
      this.handler?.({ owner: parsed.data.o, taskId: parsed.data.t, kind: parsed.data.k });
    });
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.();
  }

  onSignal(handler: (signal: TaskSignal) => void): void {
    this.handler = handler;
  }

  async create(task: NewTask): Promise<TaskRecord> {
    const key = this.keys.task(task.owner, task.taskId);
    // One MULTI: the record and its lease exist together, before the CreateTaskResult is sent.
    await this.redis
      .multi()
      .hset(key, {
        status: 'working',
        tool: task.tool,
        worker: this.instanceId,
        createdAt: task.createdAt,
        lastUpdatedAt: task.createdAt,
        ttlMs: task.ttlMs,
        pollIntervalMs: task.pollIntervalMs,
      })
      .pexpire(key, task.ttlMs)
      .set(this.keys.taskLease(task.owner, task.taskId), this.instanceId, 'PX', task.leaseMs)
      .exec();
    return {
      taskId: task.taskId,
      status: 'working',
      createdAt: task.createdAt,
      lastUpdatedAt: task.createdAt,
      ttlMs: task.ttlMs,
      pollIntervalMs: task.pollIntervalMs,
    };
  }

  async read(owner: string, taskId: string): Promise<TaskRecord | undefined> {
    const flat = (await this.redis.eval(
      READ,
      2,
      this.keys.task(owner, taskId),
      this.keys.taskLease(owner, taskId),
      JSON.stringify(WORKER_LOST),
      String(Date.now()),
    )) as string[] | null;
    if (!flat) return undefined;
    const fields: Record<string, string> = {};
    const inputRequests: Record<string, unknown> = {};
    for (let i = 0; i < flat.length; i += 2) {
      const [name, value] = [flat[i]!, flat[i + 1]!];
      if (name.startsWith('ask:')) inputRequests[name.slice(4)] = safeJson(value);
      else fields[name] = value;
    }
    const parsed = RecordSchema.safeParse(fields);
    if (!parsed.success) {
      this.log.warn({ taskId, issues: parsed.error.issues.length }, 'unreadable task record');
      return undefined;
    }
    const r = parsed.data;
    return {
      taskId,
      status: r.status,
      createdAt: r.createdAt,
      lastUpdatedAt: r.lastUpdatedAt,
      ttlMs: r.ttlMs,
      pollIntervalMs: r.pollIntervalMs,
      ...(r.result ? { result: r.result as TaskRecord['result'] } : {}),
      ...(r.error ? { error: r.error } : {}),
      ...(r.status === 'input_required' ? { inputRequests: inputRequests as TaskRecord['inputRequests'] } : {}),
    };
  }

  async settle(owner: string, taskId: string, outcome: TaskOutcome): Promise<boolean> {
    const [field, value] =
      outcome.status === 'completed'
        ? ['result', JSON.stringify(outcome.result)]
        : outcome.status === 'failed'
          ? ['error', JSON.stringify(outcome.error)]
          : ['', ''];
    const worker = await this.settleScript(owner, taskId, outcome.status, field, value);
    return typeof worker === 'string';
  }

  async cancel(owner: string, taskId: string): Promise<'cancelled' | 'finished' | 'unknown'> {
    const worker = await this.settleScript(owner, taskId, 'cancelled', '', '');
    if (worker === -1) return 'unknown';
    if (typeof worker !== 'string') return 'finished';
    this.signal(worker, { owner, taskId, kind: 'cancel' });
    return 'cancelled';
  }

  async ask(owner: string, taskId: string, requests: Record<string, unknown>): Promise<boolean> {
    const pairs = Object.entries(requests).flatMap(([k, v]) => [k, JSON.stringify(v)]);
    return (await this.redis.eval(ASK, 1, this.keys.task(owner, taskId), String(Date.now()), ...pairs)) === 1;
  }

  async answer(owner: string, taskId: string, responses: Record<string, unknown>): Promise<'answered' | 'unknown'> {
    const pairs = Object.entries(responses).flatMap(([k, v]) => [k, JSON.stringify(v)]);
    const worker = (await this.redis.eval(ANSWER, 1, this.keys.task(owner, taskId), String(Date.now()), ...pairs)) as
      string | number;
    if (worker === -1) return 'unknown';
    if (typeof worker === 'string') this.signal(worker, { owner, taskId, kind: 'input' });
    return 'answered';
  }

  async takeAnswers(owner: string, taskId: string, keys: readonly string[]): Promise<Record<string, unknown>> {
    if (keys.length === 0) return {};
    const values = (await this.redis.eval(TAKE, 1, this.keys.task(owner, taskId), ...keys)) as Array<string | null>;
    const answers: Record<string, unknown> = {};
    keys.forEach((k, i) => {
      const v = values[i];
      if (typeof v === 'string') answers[k] = safeJson(v);
    });
    return answers;
  }

  async renewLease(owner: string, taskId: string, leaseMs: number): Promise<boolean> {
    const renewed = await this.redis.eval(
      RENEW,
      2,
      this.keys.task(owner, taskId),
      this.keys.taskLease(owner, taskId),
      String(leaseMs),
      this.instanceId,
    );
    return renewed === 1;
  }

  private settleScript(
    owner: string,
    taskId: string,
    status: TaskOutcome['status'],
    field: string,
    value: string,
  ): Promise<unknown> {
    return this.redis.eval(
      SETTLE,
      2,
      this.keys.task(owner, taskId),
      this.keys.taskLease(owner, taskId),
      status,
      field,
      value,
      String(Date.now()),
    );
  }

  private signal(worker: string, signal: TaskSignal): void {
    this.bus.tryPublish(
      this.keys.taskSignals(worker),
      JSON.stringify({ o: signal.owner, t: signal.taskId, k: signal.kind }),
    );
  }
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return undefined;
  }
}
