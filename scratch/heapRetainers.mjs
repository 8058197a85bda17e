// node scratch/heapRetainers.mjs snap type name : who retains nodes of that type+name (retainer type:name . edge)
import { loadSnapshot } from './heapSnapshot.mjs';
const { nodeFields, edgeFields, types, etypes, iType, iName, iEc, eType, eName, eTo, N, E, S } = loadSnapshot(
  process.argv[2],
);
const [wantType, wantName] = [process.argv[3], process.argv[4]];
const label = (i) => `${types[N[i + iType]]}:${S[N[i + iName]].slice(0, 40)}`;
const m = new Map();
let e = 0;
for (let i = 0; i < N.length; i += nodeFields) {
  const ec = N[i + iEc];
  for (let k = 0; k < ec; k++, e += edgeFields) {
    const to = E[e + eTo];
    if (types[N[to + iType]] !== wantType || S[N[to + iName]] !== wantName) continue;
    const et = etypes[E[e + eType]];
    const en = et === 'element' || et === 'hidden' ? '[]' : S[E[e + eName]];
    if (et === 'weak') continue;
    const key = `${label(i)} .${en}`;
    m.set(key, (m.get(key) ?? 0) + 1);
  }
}
for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(String(v).padStart(7), k);
