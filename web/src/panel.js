// panel.js - the side panel: a version's details, an edge's risks, a removed
// edge's blocked-edges entry.
import { fill, h, link } from './dom.js';

const CHANNELS_KEY = 'io.openshift.upgrades.graph.release.channels';

// A list of versions the user can jump to (incoming or outgoing updates).
function versionList(entries, go) {
  if (!entries || !entries.length) return h('p', { class: 'muted' }, 'none');
  return h('ul', { class: 'versions' }, entries.map((e) => h('li', {},
    h('button', { type: 'button', class: 'version-link', onclick: () => go(e.version) }, e.version),
    e.conditional ? h('span', { class: 'tag conditional', title: 'conditional update: has risks' }, 'conditional') : null)));
}

function copyButton(text) {
  const button = h('button', { type: 'button', class: 'copy', title: 'copy to the clipboard' }, 'copy');
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'copied';
    } catch {
      button.textContent = 'select and copy';
    }
    setTimeout(() => { button.textContent = 'copy'; }, 1500);
  });
  return button;
}

function metadataList(metadata) {
  const keys = Object.keys(metadata || {}).sort();
  if (!keys.length) return h('p', { class: 'muted' }, 'none');
  return h('dl', { class: 'metadata' }, keys.map((k) => [
    h('dt', {}, k),
    h('dd', {}, k === 'url' ? link(metadata[k]) : metadata[k]),
  ]));
}

// version: the node; model: buildModel's answer; go(version): select another.
export function renderNode(panel, model, version, go) {
  const node = model.nodeByVersion.get(version);
  const metadata = node.metadata || {};
  const channels = (metadata[CHANNELS_KEY] || '').split(',').filter(Boolean);
  const outgoing = model.outgoing.get(version) || [];
  const incoming = model.incoming.get(version) || [];
  fill(panel,
    h('h2', {}, version),
    metadata.url ? h('p', {}, 'Errata: ', link(metadata.url)) : null,
    h('h3', {}, 'Payload'),
    h('div', { class: 'payload' }, h('code', { class: 'payload-text' }, node.payload), copyButton(node.payload)),
    h('h3', {}, `Channels (${channels.length})`),
    channels.length ? h('p', { class: 'channels' }, channels.map((c) => h('span', { class: 'tag' }, c))) : h('p', { class: 'muted' }, 'none'),
    h('h3', {}, `Updates to (${outgoing.length})`),
    versionList(outgoing, go),
    h('h3', {}, `Updates from (${incoming.length})`),
    versionList(incoming, go),
    h('h3', {}, 'Metadata'),
    metadataList(metadata),
  );
}

function matchingRule(rule) {
  if (rule.type === 'PromQL' && rule.promql)
    return h('li', {}, h('span', { class: 'rule-type' }, 'PromQL'),
      h('pre', { class: 'promql' }, h('code', {}, rule.promql.promql)));
  if (rule.type === 'Always') return h('li', {}, h('span', { class: 'rule-type' }, 'Always'),
    ' (every cluster is exposed)');
  return h('li', {}, h('code', {}, JSON.stringify(rule)));
}

export function renderRisk(risk) {
  return h('section', { class: 'risk' },
    h('h3', { class: 'risk-name' }, risk.name),
    h('p', { class: 'risk-message' }, risk.message),
    risk.url ? h('p', {}, link(risk.url)) : null,
    (risk.matchingRules || []).length ? [h('h4', {}, 'Matching rules'),
      h('ul', { class: 'rules' }, risk.matchingRules.map(matchingRule))] : null);
}

function edgeHeader(from, to, go) {
  return h('h2', { class: 'edge-title' },
    h('button', { type: 'button', class: 'version-link', onclick: () => go(from) }, from),
    ' → ',
    h('button', { type: 'button', class: 'version-link', onclick: () => go(to) }, to));
}

export function renderEdge(panel, model, kind, from, to, go) {
  let body;
  if (kind === 'conditional') {
    const entry = model.conditional.get(`${from}>${to}`);
    const n = entry.risks.length;
    body = [h('p', { class: 'edge-kind' }, h('span', { class: 'tag conditional' }, 'conditional update'),
      ` ${n} risk${n === 1 ? '' : 's'}: a cluster is offered it only when no matching rule applies, or its admin accepts the risk.`),
    entry.risks.map(renderRisk)];
  } else if (kind === 'jump') {
    body = h('p', { class: 'edge-kind' }, 'image-based upgrade jump: not an edge of the update graph.');
  } else {
    body = h('p', { class: 'edge-kind' }, 'unconditional update: offered to every cluster on ', from, '.');
  }
  fill(panel, edgeHeader(from, to, go), body);
}

// entry: one edge of the blocked API: {from, to, file, from_regex, reason}.
export function renderRemoved(panel, entry, go) {
  let reason = h('p', { class: 'muted' }, 'no reason given');
  if (typeof entry.reason === 'string') reason = h('p', {}, entry.reason);
  else if (entry.reason && typeof entry.reason === 'object') reason = renderRisk(entry.reason);
  fill(panel, edgeHeader(entry.from, entry.to, go),
    h('p', { class: 'edge-kind' }, h('span', { class: 'tag removed' }, 'removed by graph-data'),
      ' this update is not offered: a blocked-edges entry removes it.'),
    h('dl', { class: 'metadata' },
      h('dt', {}, 'file'), h('dd', { class: 'blocked-file' }, h('code', {}, entry.file)),
      h('dt', {}, 'from (regex)'), h('dd', {}, h('code', {}, entry.from_regex || ''))),
    h('h3', {}, 'Reason'), reason);
}

export function renderHelp(panel) {
  fill(panel, h('h2', {}, 'Details'),
    h('p', { class: 'muted' }, 'Click a version or an edge in the graph, or search a version, to see its details here.'));
}
