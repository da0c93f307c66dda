// A fault from outside the action's code, loaded before the bundle with
// `NODE_OPTIONS=--import=<this file>`: once the file named by FAIL_LATER_WHEN exists (for example
// the fault shim's state file, written when a push starts), or after FAIL_LATER_MS, it throws from
// a timer (FAIL_LATER_MODE=throw, an uncaught exception) or rejects a promise nobody awaits
// (FAIL_LATER_MODE=reject, an unhandled rejection), the way a defect in any bundled module would.
import { existsSync } from 'node:fs';

const when = process.env.FAIL_LATER_WHEN;
const afterMs = Number(process.env.FAIL_LATER_MS ?? 0);
const mode = process.env.FAIL_LATER_MODE ?? 'throw';
const started = Date.now();

function fire() {
  const err = new TypeError(`injected fault (${mode})`);
  if (mode === 'reject') void Promise.reject(err);
  else throw err;
}

// Only in the action itself: the fault shim, also a Node program, inherits NODE_OPTIONS.
const inAction = /[\\/]dist[\\/]index\.js$/.test(process.argv[1] ?? '');
const timer = setInterval(() => {
  if (!inAction) return clearInterval(timer);
  if (when ? !existsSync(when) : Date.now() - started < afterMs) return;
  clearInterval(timer);
  setTimeout(fire, 200);
}, 50);
timer.unref();
