// The parts of a V8 .heapsnapshot the heap scripts here read: flat node and edge arrays with
// their field offsets, the type names, and the string table.
import { readFileSync } from 'node:fs';

export function loadSnapshot(file) {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const f = snap.snapshot.meta.node_fields;
  const ef = snap.snapshot.meta.edge_fields;
  return {
    nodeFields: f.length,
    edgeFields: ef.length,
    types: snap.snapshot.meta.node_types[0],
    etypes: snap.snapshot.meta.edge_types[0],
    iType: f.indexOf('type'),
    iName: f.indexOf('name'),
    iEc: f.indexOf('edge_count'),
    iSize: f.indexOf('self_size'),
    eType: ef.indexOf('type'),
    eName: ef.indexOf('name_or_index'),
    eTo: ef.indexOf('to_node'),
    N: snap.nodes,
    E: snap.edges,
    S: snap.strings,
  };
}
