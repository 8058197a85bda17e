// node scratch/heapPath.mjs snap type name [n]: a few retainer chains (up to 8 hops) of nodes of that type+name.
import { loadSnapshot } from './heapSnapshot.mjs';
const { nodeFields, edgeFields, types, etypes, iType, iName, iEc, eType, eName, eTo, N, E, S } = loadSnapshot(
  process.argv[2],
);
const [wantType, wantName] = [process.argv[3], process.argv[4]];
const label = (i) => `${types[N[i + iType]]}:${S[N[i + iName]].slice(0, 50)}`;
const retainers = new Map();
let e = 0;
for (let i = 0; i < N.length; i += nodeFields) {
  const ec = N[i + iEc];
  for (let k = 0; k < ec; k++, e += edgeFields) {
    const et = etypes[E[e + eType]];
    if (et === 'weak') continue;
    const to = E[e + eTo];
    const en = et === 'element' || et === 'hidden' ? '[]' : String(S[E[e + eName]]);
    (retainers.get(to) ?? retainers.set(to, []).get(to)).push([i, en]);
  }
}
let shown = 0;
for (let i = 0; i < N.length && shown < Number(process.argv[5] ?? 3); i += nodeFields) {
  if (types[N[i + iType]] !== wantType || S[N[i + iName]] !== wantName) continue;
  shown++;
  let cur = i;
  const path = [label(cur)];
  const seen = new Set([cur]);
  for (let hop = 0; hop < 10; hop++) {
    const r = (retainers.get(cur) ?? []).find(([p]) => !seen.has(p));
    if (!r) break;
    path.push(`<-.${r[1]}- ${label(r[0])}`);
    cur = r[0];
    seen.add(cur);
  }
  console.log(path.join('\n   '));
}
