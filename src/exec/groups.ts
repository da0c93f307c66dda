// The process groups runProcess starts: which are alive, signalling one, waiting until one is
// gone, and killing all that are left when the action exits.

import { readdirSync, readFileSync } from 'node:fs';

// Every live process group this module started, so that an exiting action can take them along.
const liveGroups = new Set<number>();

export function trackGroup(pgid: number): void {
  liveGroups.add(pgid);
}

export function untrackGroup(pgid: number): void {
  liveGroups.delete(pgid);
}

export function liveProcessGroups(): number[] {
  return [...liveGroups];
}

/** Kills every process group still alive; safe to call from a synchronous `exit` handler. */
export function killAllGroups(signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, signal);
    } catch {
      // already gone
    }
  }
}

/** Signals a child's whole group; the child alone when the group cannot be signalled. */
export function signalGroup(
  child: { pid?: number; kill(sig: NodeJS.Signals): boolean },
  sig: NodeJS.Signals,
): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    try {
      child.kill(sig);
    } catch {
      // gone
    }
  }
}

/**
 * True while a process of the group is alive (zombies waiting to be reaped do not count). A group
 * with nothing left in it, not even a zombie (the usual case once the leader exited), is told by
 * one signal 0; only a group that still has members costs a scan of /proc (5 ms or more of CPU).
 */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    if (process.platform !== 'linux') return true;
  } catch (err) {
    if (process.platform !== 'linux' || (err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return false;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') return true;
    } catch {
      // gone meanwhile
    }
  }
  return false;
}

/** Waits, bounded, until every process of a killed group is gone. */
export async function waitGroupGone(pgid: number, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (groupAlive(pgid) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}
