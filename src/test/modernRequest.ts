/**
 * Raw 2026-07-28 requests for tests that need the wire itself (the tasks extension, which the SDK
 * client does not speak; error codes and ids; per-request opt-ins): a POST with the per-request
 * `_meta` envelope and the standard headers, answered as JSON or SSE.
 */
export const MODERN_VERSION = '2026-07-28';
export const TASKS = 'io.modelcontextprotocol/tasks';

export interface ModernOptions {
  token?: string;
  id?: string | number;
  /** Client capabilities declared in this request's envelope (default: none). */
  capabilities?: Record<string, unknown>;
  /** Headers to add or override (e.g. a wrong Mcp-Name). */
  headers?: Record<string, string>;
}

export interface ModernAnswer {
  status: number;
  headers: Headers;
  /** The JSON-RPC response (from the JSON body, or the SSE event carrying it). */
  body: { id?: unknown; result?: Record<string, unknown>; error?: { code: number; message: string; data?: unknown } };
}

let nextId = 1;

/** Which params field the `Mcp-Name` header mirrors (SEP-2243, SEP-2663). */
function nameOf(method: string, params: Record<string, unknown>): unknown {
  if (method === 'tools/call' || method === 'prompts/get') return params['name'];
  if (method === 'resources/read') return params['uri'];
  if (method.startsWith('tasks/')) return params['taskId'];
  return undefined;
}

export async function modernPost(
  baseUrl: string,
  method: string,
  params: Record<string, unknown> = {},
  opts: ModernOptions = {},
): Promise<ModernAnswer> {
  const id = opts.id ?? nextId++;
  const { _meta, ...rest } = params as { _meta?: Record<string, unknown> };
  const body = {
    jsonrpc: '2.0',
    id,
    method,
    params: {
      ...rest,
      _meta: {
        'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
        'io.modelcontextprotocol/clientCapabilities': opts.capabilities ?? {},
        'io.modelcontextprotocol/clientInfo': { name: 'raw-test-client', version: '1.0.0' },
        ..._meta,
      },
    },
  };
  const name = nameOf(method, params);
  const res = await fetch(`${baseUrl}/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': MODERN_VERSION,
      'mcp-method': method,
      ...(typeof name === 'string' ? { 'mcp-name': name } : {}),
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...opts.headers,
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  let answer: ModernAnswer['body'] = {};
  if (type.includes('text/event-stream')) {
    const events = text
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => JSON.parse(l.slice(5)) as ModernAnswer['body']);
    answer = events.find((e) => e.id === id) ?? {};
  } else if (text) {
    answer = JSON.parse(text) as ModernAnswer['body'];
  }
  return { status: res.status, headers: res.headers, body: answer };
}

/** Polls tasks/get until `done` holds for the task (a task's progress is only observable by reading it). */
export async function pollTask(
  baseUrl: string,
  token: string,
  taskId: string,
  done: (task: Record<string, unknown>) => boolean,
  timeoutMs = 15_000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await modernPost(
      baseUrl,
      'tasks/get',
      { taskId },
      { token, capabilities: { extensions: { [TASKS]: {} } } },
    );
    if (!body.result) throw new Error(`tasks/get failed: ${JSON.stringify(body.error)}`);
    if (done(body.result)) return body.result;
    if (Date.now() > deadline) throw new Error(`task ${taskId} still ${String(body.result['status'])}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
