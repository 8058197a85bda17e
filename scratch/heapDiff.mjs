// node scratch/heapDiff.mjs before.heapsnapshot after.heapsnapshot [count]:
// self size by constructor, after minus before.
import { loadSnapshot } from './heapSnapshot.mjs';
function summarize(file) {
  const { nodeFields, types, iType, iName, iSize, N, S } = loadSnapshot(file);
  const out = new Map();
  for (let i = 0; i < N.length; i += nodeFields) {
    const type = types[N[i + iType]];
    const name = type === 'object' || type === 'closure' ? `${type}:${S[N[i + iName]]}` : type;
    const e = out.get(name) ?? { size: 0, count: 0 };
    e.size += N[i + iSize];
    e.count++;
    out.set(name, e);
  }
  return out;
}
const [a, b] = [summarize(process.argv[2]), summarize(process.argv[3])];
const per = Number(process.argv[4] ?? 1);
const rows = [...b]
  .map(([k, v]) => ({ k, size: v.size - (a.get(k)?.size ?? 0), count: v.count - (a.get(k)?.count ?? 0) }))
  .sort((x, y) => y.size - x.size)
  .slice(0, 40);
let total = 0;
for (const [k, v] of b) total += v.size - (a.get(k)?.size ?? 0);
console.log('total per unit', Math.round(total / per));
for (const r of rows)
  console.log(String(Math.round(r.size / per)).padStart(7), (r.count / per).toFixed(2).padStart(7), r.k);
