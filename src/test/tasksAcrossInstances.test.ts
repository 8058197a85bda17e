/**
 * The tasks extension (SEP-2663) across instances: a task started on one instance is read,
 * answered, cancelled and its result fetched on another; what happens when the instance running
 * it dies or shuts down; who may see a task. The SDK client does not speak this extension, so
 * these tests use the wire (modernRequest.ts).
 */
import type { RunningServer } from '../server.js';
import { startCluster, TOKENS, type Cluster } from './cluster.js';
import { modernPost, pollTask, TASKS } from './modernRequest.js';

const WITH_TASKS = { capabilities: { extensions: { [TASKS]: {} }, elicitation: {} } };

let c: Cluster;
let A: string, B: string;
beforeAll(async () => {
  c = await startCluster(2, { RESOURCE_UPDATE_INTERVAL_MS: '0', TASK_POLL_INTERVAL_MS: '200' });
  [A, B] = c.instances.map((i) => i.url) as [string, string];
});
afterAll(() => c.close());

async function startTask(
  base: string,
  name: string,
  args: Record<string, unknown>,
  token: string = TOKENS.alice,
): Promise<string> {
  const created = await modernPost(base, 'tools/call', { name, arguments: args }, { token, ...WITH_TASKS });
  expect(created.body.result).toMatchObject({
    resultType: 'task',
    status: 'working',
    ttlMs: 3_600_000,
    pollIntervalMs: 200,
  });
  expect(created.body.result).not.toHaveProperty('result');
  return created.body.result!['taskId'] as string;
}

const call = (base: string, method: string, params: Record<string, unknown>, token: string = TOKENS.alice) =>
  modernPost(base, method, params, { token, ...WITH_TASKS });

const finished = (t: Record<string, unknown>) => ['completed', 'failed', 'cancelled'].includes(t['status'] as string);

test('started on A, the result is fetched on B; readable on B the moment the call returns', async () => {
  const taskId = await startTask(A, 'slow_compute', { seconds: 0, label: 'quick' });
  const right = await call(B, 'tasks/get', { taskId });
  expect(right.body.result).toMatchObject({ taskId, resultType: 'complete' });
  const done = await pollTask(B, TOKENS.alice, taskId, finished);
  expect(done).toMatchObject({
    status: 'completed',
    result: { content: [{ type: 'text', text: 'Computed quick in 0 s' }] },
  });
});

test('cancelled on B, the work running on A stops and the task stays cancelled', async () => {
  const taskId = await startTask(A, 'slow_compute', { seconds: 60 });
  expect((await call(B, 'tasks/get', { taskId })).body.result).toMatchObject({ status: 'working' });
  expect(await running(c.instances[0]!)).toBe(1);
  const ack = await call(B, 'tasks/cancel', { taskId });
  expect(ack.body.result).toEqual(expect.objectContaining({ resultType: 'complete' }));
  expect(ack.body.result).not.toHaveProperty('status');
  expect((await call(A, 'tasks/get', { taskId })).body.result).toMatchObject({ status: 'cancelled' });
  // The cancellation reached the instance running it through Redis, which stopped the work.
  while ((await running(c.instances[0]!)) > 0) await new Promise((r) => setImmediate(r));
  // Cancelling a finished task is acknowledged again and changes nothing.
  expect((await call(A, 'tasks/cancel', { taskId })).body.result).toMatchObject({ resultType: 'complete' });
  expect((await call(B, 'tasks/get', { taskId })).body.result).toMatchObject({ status: 'cancelled' });
});

test('a task waiting on A for the client is answered on B, one question at a time, and resumes on A', async () => {
  const taskId = await startTask(A, 'multi_input', {});
  const waiting = await pollTask(B, TOKENS.alice, taskId, (t) => t['status'] === 'input_required');
  expect(Object.keys(waiting['inputRequests'] as object).sort()).toEqual(['confirm', 'name']);
  expect(waiting).not.toHaveProperty('requestState');

  const first = await call(B, 'tasks/update', {
    taskId,
    inputResponses: { name: { action: 'accept', content: { name: 'Ada' } } },
  });
  expect(first.body.result).toMatchObject({ resultType: 'complete' });
  const half = (await call(A, 'tasks/get', { taskId })).body.result!;
  expect(half).toMatchObject({ status: 'input_required' });
  expect(Object.keys(half['inputRequests'] as object)).toEqual(['confirm']);

  await call(A, 'tasks/update', {
    taskId,
    inputResponses: { confirm: { action: 'accept', content: { confirm: true } } },
  });
  const done = await pollTask(B, TOKENS.alice, taskId, finished);
  expect(done).toMatchObject({ status: 'completed', result: { content: [{ text: 'Name: Ada; proceed: yes' }] } });
});

test('tool errors complete with isError; protocol errors fail with the JSON-RPC error', async () => {
  const failing = await startTask(B, 'failing_job', {});
  expect(await pollTask(A, TOKENS.alice, failing, finished)).toMatchObject({
    status: 'completed',
    result: { isError: true },
  });
  const broken = await startTask(B, 'protocol_error_job', {});
  const failed = await pollTask(A, TOKENS.alice, broken, finished);
  expect(failed).toMatchObject({ status: 'failed', error: { code: -32603 } });
  expect(failed).not.toHaveProperty('result');
});

test('a task belongs to the user and client that started it; without the extension, tasks/* are refused', async () => {
  const taskId = await startTask(A, 'slow_compute', { seconds: 30 });
  for (const method of ['tasks/get', 'tasks/cancel']) {
    const foreign = await call(B, method, { taskId }, TOKENS.bob);
    expect(foreign.body.error).toMatchObject({ code: -32602, message: 'Unknown task' });
  }
  const undeclared = await modernPost(B, 'tasks/get', { taskId }, { token: TOKENS.alice });
  expect(undeclared.status).toBe(400);
  expect(undeclared.body.error).toMatchObject({
    code: -32021,
    data: { requiredCapabilities: { extensions: { [TASKS]: {} } } },
  });
  // A tool that runs only as a task is refused too; one that may runs in the call instead.
  const required = await modernPost(B, 'tools/call', { name: 'failing_job', arguments: {} }, { token: TOKENS.alice });
  expect(required.body.error).toMatchObject({ code: -32021 });
  const inline = await modernPost(
    B,
    'tools/call',
    { name: 'slow_compute', arguments: { seconds: 0 } },
    { token: TOKENS.alice },
  );
  expect(inline.body.result).toMatchObject({ resultType: 'complete', content: [{ text: 'Computed in 0 s' }] });
  await call(A, 'tasks/cancel', { taskId });
});

test('input gathered by a multi-round-trip request before the task exists reaches the task', async () => {
  const round1 = await call(A, 'tools/call', { name: 'test_tool_with_task', arguments: {} });
  expect(round1.body.result).toMatchObject({
    resultType: 'input_required',
    inputRequests: { user_name: { method: 'elicitation/create' } },
  });
  const round2 = await call(B, 'tools/call', {
    name: 'test_tool_with_task',
    arguments: {},
    inputResponses: { user_name: { action: 'accept', content: { name: 'Grace' } } },
  });
  expect(round2.body.result).toMatchObject({ resultType: 'task' });
  const done = await pollTask(A, TOKENS.alice, round2.body.result!['taskId'] as string, finished);
  expect(done).toMatchObject({ status: 'completed', result: { content: [{ text: 'Hello, Grace! (from a task)' }] } });
});

describe('when the instance running a task goes away', () => {
  test('killed: the task fails once its lease lapses, with a reason, on every other instance', async () => {
    const doomed = await c.start({ TASK_LEASE_MS: '600' });
    const taskId = await startTask(doomed.url, 'slow_compute', { seconds: 60 });
    expect((await call(B, 'tasks/get', { taskId })).body.result).toMatchObject({ status: 'working' });
    await doomed.kill();
    const failed = await pollTask(B, TOKENS.alice, taskId, finished);
    expect(failed).toMatchObject({ status: 'failed', error: { code: -32603, data: { reason: 'worker_lost' } } });
    // And stays so: a late renewal cannot revive a task declared lost.
    expect((await call(A, 'tasks/get', { taskId })).body.result).toMatchObject({ status: 'failed' });
  });

  test('stopped gracefully: its tasks fail at once, saying the instance shut down', async () => {
    const leaving = await c.start({ SHUTDOWN_GRACE_MS: '0' });
    const taskId = await startTask(leaving.url, 'slow_compute', { seconds: 60 });
    await leaving.stop();
    expect((await call(A, 'tasks/get', { taskId })).body.result).toMatchObject({
      status: 'failed',
      error: { data: { reason: 'worker_stopped' } },
    });
  });
});

/** Tasks running on an instance, as its metrics report them. */
async function running(instance: RunningServer): Promise<number> {
  return (await instance.metrics.runningTasks.get()).values[0]?.value ?? 0;
}
