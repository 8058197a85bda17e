/** Every tool this server offers, in tools/list order. */
import { BASIC_TOOLS } from './basic.js';
import { CLIENT_REQUEST_TOOLS } from './clientRequests.js';
import { CONFORMANCE_TOOLS } from './conformance.js';
import { INPUT_REQUIRED_FIXTURES } from './inputRequiredFixtures.js';
import { longRunningOperation } from './longRunning.js';
import type { RegisteredTool } from './registry.js';
import { STATELESS_FIXTURES } from './statelessFixtures.js';
import { TASK_TOOLS } from './taskFixtures.js';

export const ALL_TOOLS: readonly RegisteredTool[] = [
  ...BASIC_TOOLS,
  longRunningOperation,
  ...CLIENT_REQUEST_TOOLS,
  ...CONFORMANCE_TOOLS,
  ...STATELESS_FIXTURES,
  ...INPUT_REQUIRED_FIXTURES,
  ...TASK_TOOLS,
];
