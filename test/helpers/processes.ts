/**
 * Processes as the tests see them through Linux's /proc: whether one still runs, and which run under
 * another. The tests run on Linux (CI and the test cluster need it).
 *
 * @module
 */

/** The state letter and parent of `/proc/<pid>/stat` (the command name is in parentheses and may hold spaces). */
function statOf(text: string): { state: string; parent: number; command: string } {
  const close = text.lastIndexOf(")");
  const fields = text.slice(close + 2).split(" ");
  return { state: fields[0], parent: Number(fields[1]), command: text.slice(text.indexOf("(") + 1, close) };
}

/** Whether process `pid` is still running; a zombie has already exited and counts as gone. */
export function processRunning(pid: number): boolean {
  try {
    return statOf(Deno.readTextFileSync(`/proc/${pid}/stat`)).state !== "Z";
  } catch {
    return false;
  }
}

/** A running process: its pid, its parent's and its command name. */
export interface ProcessEntry {
  /** Its pid. */
  pid: number;
  /** Its parent's pid. */
  parent: number;
  /** Its command name (`comm`, at most 15 characters). */
  command: string;
}

/** The running processes under `pid`: its children, theirs, and so on (not zombies, not `pid` itself). */
export async function processesUnder(pid: number): Promise<ProcessEntry[]> {
  const all: ProcessEntry[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = statOf(await Deno.readTextFile(`/proc/${entry.name}/stat`));
      if (stat.state !== "Z") {
        all.push({ pid: Number(entry.name), parent: stat.parent, command: stat.command });
      }
    } catch {
      // Gone meanwhile.
    }
  }
  const under = new Set([pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of all) {
      if (under.has(p.parent) && !under.has(p.pid)) {
        under.add(p.pid);
        grew = true;
      }
    }
  }
  return all.filter((p) => p.pid !== pid && under.has(p.pid));
}
