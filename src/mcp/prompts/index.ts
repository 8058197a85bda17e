/** Every prompt this server offers, in prompts/list order. */
import { CONFORMANCE_PROMPTS } from './conformance.js';
import { EVERYTHING_PROMPTS } from './everything.js';
import type { RegisteredPrompt } from './registry.js';

export const ALL_PROMPTS: readonly RegisteredPrompt[] = [...EVERYTHING_PROMPTS, ...CONFORMANCE_PROMPTS];
