// The bundle's entry point (dist/index.js, as action.yml runs it): runs the action.

import { run } from './main.js';

await run();
