/**
 * tasks/get, tasks/update and tasks/cancel (the tasks extension, SEP-2663) on a server serving
 * one 2026-07-28 request. They read and change the shared store, so they work on whichever
 * instance receives them; the instance running the task hears about cancellations and answers
 * through the store's signals (runner.ts).
 *
 * The SDK lets exactly these names through on the 2026 wire when they are registered with
 * explicit schemas (its "extension-reused" methods); the ladder in front of them (version,
 * envelope, `Mcp-Method`, and `Mcp-Name` = `params.taskId`) is the SDK's. A request that did not
 * declare the extension in its `_meta` client capabilities is refused with -32021, and an id the
 * caller does not own is unknown: -32602, as for an id that never existed.
 */
import { ProtocolError, ProtocolErrorCode, type Server, type ServerContext } from '@modelcontextprotocol/server';
import { UnknownTaskError } from '../errors.js';
import type { TaskRunner } from './runner.js';
import type { TaskStore } from './store.js';
import {
  CancelTaskParams,
  declaresTasks,
  detailedTask,
  GetTaskParams,
  TaskResult,
  TASKS_EXTENSION,
  tasksExtensionRequired,
  UpdateTaskParams,
} from './wire.js';

export interface TaskServices {
  store: TaskStore;
  runner: TaskRunner;
  /** The owner of what the caller creates and may see: its user AND OAuth client, from the verified token. */
  ownerOf(sdk: ServerContext): string;
}

export function installTaskHandlers(server: Server, tasks: TaskServices): void {
  server.registerCapabilities({ extensions: { [TASKS_EXTENSION]: {} } });

  const gate = (sdk: ServerContext) => {
    if (!declaresTasks(sdk)) throw tasksExtensionRequired();
    return tasks.ownerOf(sdk);
  };

  server.setRequestHandler('tasks/get', { params: GetTaskParams, result: TaskResult }, async ({ taskId }, sdk) => {
    const task = await tasks.store.read(gate(sdk), taskId);
    if (!task) throw new UnknownTaskError(taskId);
    return detailedTask(task);
  });

  server.setRequestHandler(
    'tasks/update',
    { params: UpdateTaskParams, result: TaskResult },
    async ({ taskId }, sdk) => {
      const owner = gate(sdk);
      const responses = sdk.mcpReq.inputResponses;
      if (responses === undefined)
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'tasks/update needs inputResponses');
      // Responses to requests the task is not waiting for are ignored (acknowledged all the same).
      if ((await tasks.store.answer(owner, taskId, responses)) === 'unknown') throw new UnknownTaskError(taskId);
      return {};
    },
  );

  server.setRequestHandler(
    'tasks/cancel',
    { params: CancelTaskParams, result: TaskResult },
    async ({ taskId }, sdk) => {
      // Cancelling a finished task is acknowledged and changes nothing (idempotent).
      if ((await tasks.store.cancel(gate(sdk), taskId)) === 'unknown') throw new UnknownTaskError(taskId);
      return {};
    },
  );
}
