/**
 * longRunningOperation: progress notifications (basic/utilities/progress) when the caller sent a
 * progressToken, and prompt stop on `notifications/cancelled` (basic/utilities/cancellation),
 * which the SDK turns into `ctx.mcpReq.signal` aborting.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { ICONS } from '../assets.js';
import { defineTool, toolError } from './registry.js';

export const longRunningOperation = defineTool({
  name: 'longRunningOperation',
  title: 'Long running operation',
  description: 'Runs for `duration` seconds in `steps` steps, reporting progress after each step; can be cancelled.',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  icons: ICONS.tool,
  input: z.object({
    duration: z.number().min(0).max(300).default(10).describe('Duration of the operation in seconds'),
    steps: z.number().int().min(1).max(100).default(5).describe('Number of steps in the operation'),
  }),
  run: async ({ duration, steps }, call) => {
    const stepMs = (duration * 1000) / steps;
    try {
      for (let step = 1; step <= steps; step++) {
        await delay(stepMs, undefined, { signal: call.sdk.mcpReq.signal });
        await call.progress(step, steps, `Step ${step} of ${steps}`);
      }
    } catch (err) {
      if (!call.sdk.mcpReq.signal.aborted) throw err;
      call.ctx.log.info(
        { tool: 'longRunningOperation', sessionId: call.ctx.session?.id },
        'longRunningOperation cancelled',
      );
      // The SDK sends no response for a cancelled request; this result is never seen.
      return toolError('Cancelled');
    }
    return {
      content: [
        { type: 'text', text: `Long running operation completed. Duration: ${duration} seconds, Steps: ${steps}.` },
      ],
    };
  },
});
