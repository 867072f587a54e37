// npm run profile:summary -- <file.cpuprofile> [pattern]
// Summarises a V8 CPU profile (from BENCH_CPU_PROF=dir npm run bench:processor): self time by
// package or source file, self time by function, and inclusive time of the functions whose "name file" matches pattern
// (default: this repo's code and kafkajs's produce encoder), each as % of all samples.
import { readFileSync } from 'node:fs';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string }; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

const [file, pattern = ' (src|actors|topics)/|murmur2|produce/v3/request.js$'] = process.argv.slice(2);
if (!file) throw new Error('usage: npm run profile:summary -- <file.cpuprofile> [pattern]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const selfMs = new Map<number, number>();
let totalMs = 0;
profile.samples.forEach((id, i) => {
  const dt = (profile.timeDeltas[i] ?? 0) / 1000;
  selfMs.set(id, (selfMs.get(id) ?? 0) + dt);
  totalMs += dt;
});

const where = (url: string) => url.replace(/^.*node_modules\//, 'npm:').replace(/^file:\/\/.*?\/(src|actors|topics|test)\//, '$1/');
const owner = ({ functionName, url }: ProfileNode['callFrame']) =>
  url === '' || url.startsWith('node:') ? (functionName.startsWith('(') ? functionName : 'node internals') : url.includes('node_modules/') ? where(url).split('/')[0]! : where(url);
const label = ({ functionName, url }: ProfileNode['callFrame']) => `${functionName || '(anonymous)'} ${where(url)}`;

const byOwner = new Map<string, number>();
const byFunction = new Map<string, number>();
const inclusive = new Map<string, number>();
const re = new RegExp(pattern);
for (const [id, ms] of selfMs) {
  const key = owner(byId.get(id)!.callFrame);
  byOwner.set(key, (byOwner.get(key) ?? 0) + ms);
  const fn = label(byId.get(id)!.callFrame);
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + ms);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const name = label(byId.get(cur)!.callFrame);
    if (!seen.has(name) && re.test(name)) {
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + ms);
    }
  }
}
const top = (m: Map<string, number>, n: number) =>
  [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, ms]) => `${((100 * ms) / totalMs).toFixed(1).padStart(5)}%  ${k}`).join('\n');
console.log(`${(totalMs / 1000).toFixed(1)} s sampled\n\nself time by package or file:\n${top(byOwner, 15)}\n\nself time by function:\n${top(byFunction, 15)}\n\ninclusive time, functions matching /${pattern}/:\n${top(inclusive, 20)}`);
