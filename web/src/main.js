// main.js - cincy's web page: pickers, graph, side panel, path view, search;
// the view (channel, arch, selection, path) lives in the URL hash so a link
// reproduces it.
import './style.css';
import { ApiError, fetchBlocked, fetchChannels, fetchGraph } from './api.js';
import { clear, fill, h } from './dom.js';
import { GraphView } from './graph.js';
import { edgeKey, buildModel } from './model.js';
import { renderEdge, renderHelp, renderNode, renderRemoved } from './panel.js';
import { PathView } from './path.js';
import { compareVersions } from './semver.js';

const $ = (id) => document.getElementById(id);

const page = {
  channels: null,      // the /v1/channels answer
  model: null,         // buildModel of the graph shown
  blocked: new Map(),  // edgeKey -> blocked API entry, while removed edges are shown
  selected: null,      // version shown in the panel
  loadSeq: 0,          // a newer load makes an older one's answer stale
};

// Test and footer figures: nodes/edges drawn and time to first draw.
window.cincyStats = { channel: null, arch: null, nodes: 0, edges: 0, conditionalEdges: 0,
  removedEdges: 0, firstDrawMs: null, loading: true };

const graph = new GraphView($('graph'), {
  onNode: (version) => selectVersion(version, { center: false }),
  onEdge: (kind, from, to) => showEdge(kind, from, to),
  onBackground: () => {
    page.selected = null;
    graph.clearSelection();
    renderHelp($('details'));
    writeHash();
  },
});
window.cincy = { graph }; // for the browser tests and the curious

const path = new PathView($('path-form'), $('path-result'), graph,
  () => ({ channel: $('channel').value, arch: $('arch').value }),
  (version) => selectVersion(version, { center: true }), () => writeHash());

function setStatus(text, isError = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', isError);
}

function readHash() {
  return Object.fromEntries(new URLSearchParams(location.hash.slice(1)));
}

function writeHash() {
  const q = new URLSearchParams();
  q.set('channel', $('channel').value);
  q.set('arch', $('arch').value);
  if ($('removed').checked) q.set('removed', '1');
  if (page.selected) q.set('select', page.selected);
  const p = path.params();
  if (p.from && p.to) {
    q.set('from', p.from);
    q.set('to', p.to);
    q.set('mode', p.mode);
    q.set('risks', p.risks);
  }
  history.replaceState(null, '', `#${q}`);
}

function fillSelect(select, values, chosen) {
  fill(select, ...values.map((v) => h('option', { value: v }, v)));
  select.value = values.includes(chosen) ? chosen : values[0];
}

function channelNames() {
  return page.channels.channels.map((c) => c.name).sort(compareChannels);
}

// stable-4.9 before stable-4.16: by name, then by version number.
function compareChannels(a, b) {
  const [an, av] = a.split(/-(?=\d)/);
  const [bn, bv] = b.split(/-(?=\d)/);
  if (an !== bn) return an < bn ? -1 : 1;
  return compareVersions(`${av}.0`, `${bv}.0`);
}

function fillArches(preferred) {
  const entry = page.channels.channels.find((c) => c.name === $('channel').value);
  const arches = entry && entry.arches.length ? entry.arches : page.channels.arches;
  fillSelect($('arch'), arches, arches.includes(preferred) ? preferred : arches.includes('amd64') ? 'amd64' : arches[0]);
}

function fillDatalists(model) {
  const versions = [...model.versions].sort(compareVersions);
  fill($('versions'), ...versions.map((v) => h('option', { value: v })));
  const minors = [...new Set(versions.map((v) => v.split('.').slice(0, 2).join('.')))];
  fill($('targets'), ...['latest', ...minors.reverse(), ...versions.reverse()].map((v) => h('option', { value: v })));
}

function showStats() {
  const s = window.cincyStats;
  $('stats').textContent = `${s.channel} ${s.arch}: ${s.nodes} versions, ${s.edges} updates, ` +
    `${s.conditionalEdges} conditional` + (s.removedEdges ? `, ${s.removedEdges} removed` : '') +
    ` · first draw ${Math.round(s.firstDrawMs)} ms`;
}

function selectVersion(version, { center }) {
  if (!page.model || !graph.selectNode(version, { center })) return false;
  page.selected = version;
  renderNode($('details'), page.model, version, (v) => selectVersion(v, { center: true }));
  writeHash();
  return true;
}

function showEdge(kind, from, to) {
  page.selected = null;
  graph.selectEdge(kind, from, to);
  const go = (v) => selectVersion(v, { center: true });
  if (kind === 'removed') renderRemoved($('details'), page.blocked.get(edgeKey(from, to)), go);
  else renderEdge($('details'), page.model, kind, from, to, go);
  writeHash();
}

async function showRemovedEdges() {
  const seq = page.loadSeq;
  const channel = $('channel').value;
  const arch = $('arch').value;
  page.blocked.clear();
  graph.hideRemoved();
  window.cincyStats.removedEdges = 0;
  $('removed-count').textContent = '';
  if (!$('removed').checked || !page.model) return;
  $('removed-count').textContent = 'loading…';
  try {
    const answer = await fetchBlocked(channel, arch);
    if (seq !== page.loadSeq || !$('removed').checked) return;
    for (const e of answer.edges) page.blocked.set(edgeKey(e.from, e.to), e);
    const missing = graph.showRemoved(answer.edges);
    const drawn = answer.edges.length - missing;
    window.cincyStats.removedEdges = drawn;
    $('removed-count').textContent = `${drawn} removed edge${drawn === 1 ? '' : 's'}` +
      (missing ? ` (${missing} not drawn: a version is not in this channel)` : '');
  } catch (e) {
    $('removed-count').textContent = `removed edges: ${e.message}`;
  }
  showStats();
}

// Loads and draws channel/arch; then restores selection and path from the hash.
async function loadView(restore = {}) {
  const seq = ++page.loadSeq;
  const channel = $('channel').value;
  const arch = $('arch').value;
  const t0 = performance.now();
  Object.assign(window.cincyStats, { channel, arch, loading: true, firstDrawMs: null });
  page.selected = null;
  setStatus(`loading ${channel} (${arch})…`);
  let model;
  try {
    const answer = await fetchGraph(channel, arch);
    performance.mark('cincy:fetched');
    model = buildModel(answer);
  } catch (e) {
    if (seq === page.loadSeq) setStatus(`${channel} (${arch}): ${e instanceof ApiError ? e.message : e}`, true);
    return;
  }
  if (seq !== page.loadSeq) return;
  page.model = model;
  clear($('path-result')); // an answer about the previous graph
  setStatus(model.versions.length ? '' : `${channel} has no versions for ${arch}`);
  const firstFrame = await graph.draw(model);
  Object.assign(window.cincyStats, graph.counts(), { firstDrawMs: firstFrame - t0,
    phases: phases(t0) });
  fillDatalists(model);
  renderHelp($('details'));
  showStats();
  writeHash();
  if ($('removed').checked) await showRemovedEdges();
  if (restore.select) selectVersion(restore.select, { center: true });
  if (restore.from && restore.to) await path.run();
  if (seq === page.loadSeq) window.cincyStats.loading = false;
}

// Milliseconds from t0 to each step of the last load (fetched, drawn...).
function phases(t0) {
  const out = {};
  for (const m of performance.getEntriesByType('mark'))
    if (m.name.startsWith('cincy:') && m.startTime >= t0) out[m.name.slice(6)] = Math.round(m.startTime - t0);
  performance.clearMarks();
  return out;
}

function search(ev) {
  ev.preventDefault();
  const version = $('search').value.trim();
  if (!version) return;
  if (selectVersion(version, { center: true })) $('search-status').textContent = '';
  else $('search-status').textContent = `${version} is not in ${$('channel').value} (${$('arch').value})`;
}

// Applies a hash (page load, or a link pasted/edited by hand).
async function applyHash() {
  const want = readHash();
  const names = channelNames();
  fillSelect($('channel'), names,
    names.includes(want.channel) ? want.channel : page.channels.default_channel);
  fillArches(want.arch);
  $('removed').checked = want.removed === '1';
  path.setParams(want);
  await loadView(want);
}

async function start() {
  renderHelp($('details'));
  try {
    page.channels = await fetchChannels();
  } catch (e) {
    setStatus(`cannot list channels: ${e.message}`, true);
    window.cincyStats.loading = false;
    return;
  }
  $('channel').addEventListener('change', () => {
    fillArches($('arch').value);
    loadView();
  });
  $('arch').addEventListener('change', () => {
    if ($('arch').value !== window.cincyStats.arch) loadView();
  });
  $('removed').addEventListener('change', () => {
    writeHash();
    showRemovedEdges();
  });
  $('view-form').addEventListener('submit', (ev) => ev.preventDefault());
  $('search-form').addEventListener('submit', search);
  window.addEventListener('hashchange', () => {
    const want = readHash();
    if (want.channel !== $('channel').value || want.arch !== $('arch').value) applyHash();
  });
  await applyHash();
}

start();
