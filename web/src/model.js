// model.js - a Cincinnati graph answer turned into what the page draws and
// lists: versions, unconditional edges as version pairs, conditional edges
// with their risks, and each version's incoming and outgoing updates.

export const edgeKey = (from, to) => `${from}>${to}`;

function addNeighbour(map, version, entry) {
  if (!map.has(version)) map.set(version, []);
  map.get(version).push(entry);
}

// graph: {nodes: [{version, payload, metadata}], edges: [[i, j]],
// conditionalEdges: [{edges: [{from, to}], risks: [...]}]}.
export function buildModel(graph) {
  const nodes = graph.nodes || [];
  const versions = nodes.map((n) => n.version);
  const nodeByVersion = new Map(nodes.map((n) => [n.version, n]));
  const plain = (graph.edges || []).map(([a, b]) => ({ from: versions[a], to: versions[b] }));
  // A pair may sit in several groups (one per risk set): its risks are joined.
  const conditional = new Map();
  for (const group of graph.conditionalEdges || []) {
    for (const e of group.edges || []) {
      const key = edgeKey(e.from, e.to);
      if (!conditional.has(key)) conditional.set(key, { from: e.from, to: e.to, risks: [] });
      conditional.get(key).risks.push(...(group.risks || []));
    }
  }
  const outgoing = new Map();
  const incoming = new Map();
  for (const e of plain) {
    addNeighbour(outgoing, e.from, { version: e.to, conditional: false });
    addNeighbour(incoming, e.to, { version: e.from, conditional: false });
  }
  for (const e of conditional.values()) {
    addNeighbour(outgoing, e.from, { version: e.to, conditional: true });
    addNeighbour(incoming, e.to, { version: e.from, conditional: true });
  }
  return { versions, nodeByVersion, plain, conditional, outgoing, incoming };
}
