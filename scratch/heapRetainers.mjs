// node scratch/heapRetainers.mjs snap type name : who retains nodes of that type+name (retainer type:name . edge)
import { readFileSync } from 'node:fs';
const snap = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const [wantType, wantName] = [process.argv[3], process.argv[4]];
const f = snap.snapshot.meta.node_fields,
  ef = snap.snapshot.meta.edge_fields;
const types = snap.snapshot.meta.node_types[0],
  etypes = snap.snapshot.meta.edge_types[0];
const [iType, iName, iEc] = [f.indexOf('type'), f.indexOf('name'), f.indexOf('edge_count')];
const [eType, eName, eTo] = [ef.indexOf('type'), ef.indexOf('name_or_index'), ef.indexOf('to_node')];
const N = snap.nodes,
  E = snap.edges,
  S = snap.strings;
const label = (i) => `${types[N[i + iType]]}:${S[N[i + iName]].slice(0, 40)}`;
const m = new Map();
let e = 0;
for (let i = 0; i < N.length; i += f.length) {
  const ec = N[i + iEc];
  for (let k = 0; k < ec; k++, e += ef.length) {
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
