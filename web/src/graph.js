// graph.js - the cytoscape view of one channel/arch: semver positions
// (layout.js), edge kinds told apart by style, selection and path focus.
import cytoscape from 'cytoscape';
import { semverLayout } from './layout.js';
import { edgeKey } from './model.js';

// Above this many edges the renderer hides edges while panning/zooming and
// draws at device pixel ratio 1: a 27,000-edge channel stays responsive.
const LARGE_GRAPH_EDGES = 4000;
const BAND_PADDING = 24;

const COLORS = {
  node: '#2f5d8a',
  plain: '#8a96a3',
  conditional: '#d9822b',
  removed: '#9e9e9e',
  path: '#1a7f37',
  selected: '#b31d28',
};

// Every element is stacked by z-index alone ('manual'): band backgrounds,
// then edges by kind, then versions, then the path on top.
const STYLE = [
  { selector: 'node, edge', style: { 'z-index-compare': 'manual' } },
  { selector: 'node.band', style: {
    shape: 'round-rectangle', width: 'data(width)', height: 'data(height)', 'background-color': '#eef2f6',
    'border-width': 0, label: 'data(label)', 'text-valign': 'top', 'text-halign': 'center', 'text-margin-y': -4,
    'font-size': 22, 'font-weight': 'bold', color: '#4a5a6a', events: 'no', 'z-index': 0 } },
  { selector: 'node.version', style: {
    width: 11, height: 11, 'background-color': COLORS.node, label: 'data(id)',
    'font-size': 10, 'text-valign': 'bottom', 'text-margin-y': 2, color: '#1f2933',
    'min-zoomed-font-size': 7, 'text-background-color': '#ffffff', 'text-background-opacity': 0.7,
    'text-background-padding': 1, 'z-index': 10 } },
  { selector: 'node.version:selected', style: {
    'background-color': COLORS.selected, width: 17, height: 17, 'font-weight': 'bold', 'z-index': 50 } },
  // Haystack edges (straight, no arrows) are the cheapest cytoscape draws;
  // arrows are not needed: an update always goes to a newer version, so to
  // the right, or down within a column.
  { selector: 'edge', style: {
    width: 1, 'curve-style': 'haystack', 'haystack-radius': 0, 'line-color': COLORS.plain,
    opacity: 0.45, 'z-index': 1 } },
  { selector: 'edge.conditional', style: {
    'line-color': COLORS.conditional, 'line-style': 'dashed', 'line-dash-pattern': [10, 4], opacity: 0.5, 'z-index': 2 } },
  { selector: 'edge.removed', style: {
    'line-color': COLORS.removed, 'line-style': 'dotted', width: 1.5, opacity: 0.8, 'z-index': 3 } },
  { selector: 'edge:selected', style: {
    width: 3, opacity: 1, 'line-color': COLORS.selected, 'z-index': 30 } },
  { selector: '.focus', style: { opacity: 1 } },
  { selector: 'edge.focus', style: { width: 2 } },
  { selector: '.faded', style: { opacity: 0.07, 'text-opacity': 0.25 } },
  { selector: 'edge.path', style: {
    width: 5, opacity: 1, 'line-color': COLORS.path, 'line-style': 'solid', 'z-index': 40 } },
  { selector: 'edge.jump', style: { 'curve-style': 'unbundled-bezier', 'control-point-distances': [-60],
    'line-style': 'dashed' } },
  { selector: 'node.path', style: {
    'background-color': COLORS.path, width: 17, height: 17, 'font-weight': 'bold', 'z-index': 41,
    opacity: 1, 'text-opacity': 1 } },
];

export const EDGE_COLORS = COLORS;

function versionElements(model, layout) {
  const elements = [];
  // A band is a plain node drawn under its versions: compound (parent)
  // nodes would be simpler but double the renderer's work per frame.
  for (const band of layout.bands)
    elements.push({ group: 'nodes', data: { id: `band:${band.minor}`, label: band.minor,
      width: band.x1 - band.x0 + BAND_PADDING * 2, height: layout.height + BAND_PADDING * 2 },
    position: { x: (band.x0 + band.x1) / 2, y: layout.height / 2 }, classes: 'band',
    selectable: false, grabbable: false });
  for (const band of layout.bands)
    for (const version of band.versions)
      elements.push({ group: 'nodes', data: { id: version }, position: layout.positions.get(version),
        classes: 'version' });
  return elements;
}

function edgeElements(model) {
  const elements = [];
  for (const e of model.plain)
    elements.push({ group: 'edges', data: { id: `e:${edgeKey(e.from, e.to)}`, source: e.from, target: e.to,
      kind: 'plain' }, classes: 'plain' });
  for (const e of model.conditional.values())
    elements.push({ group: 'edges', data: { id: `c:${edgeKey(e.from, e.to)}`, source: e.from, target: e.to,
      kind: 'conditional' }, classes: 'conditional' });
  return elements;
}

export class GraphView {
  // handlers: {onNode(version), onEdge(kind, from, to), onBackground()}
  constructor(container, handlers) {
    this.container = container;
    this.handlers = handlers;
    this.cy = null;
    this.model = null;
    this.removedCount = 0;
    this.pathElements = null;
  }

  // Draws model; resolves with the time of the first rendered frame
  // (performance.now()) once the renderer has drawn it.
  draw(model) {
    if (this.cy) this.cy.destroy();
    this.model = model;
    this.pathElements = null;
    this.removedCount = 0;
    const layout = semverLayout(model.versions);
    const edges = edgeElements(model);
    const large = edges.length > LARGE_GRAPH_EDGES;
    performance.mark('cincy:laid-out');
    const firstFrame = new Promise((resolve) => {
      this.cy = cytoscape({
        container: this.container,
        elements: versionElements(model, layout).concat(edges),
        layout: { name: 'preset', fit: true, padding: 30 },
        style: STYLE,
        minZoom: 0.03,
        maxZoom: 5,
        autoungrabify: true,
        boxSelectionEnabled: false,
        selectionType: 'single',
        hideEdgesOnViewport: large,
        textureOnViewport: false,
        motionBlur: false,
        pixelRatio: large ? 1 : 'auto',
      });
      performance.mark('cincy:created');
      this.cy.one('render', () => {
        performance.mark('cincy:rendered');
        resolve(performance.now());
      });
    });
    this.bindEvents();
    return firstFrame;
  }

  bindEvents() {
    const cy = this.cy;
    cy.on('tap', 'node.version', (ev) => this.handlers.onNode(ev.target.id()));
    cy.on('tap', 'edge', (ev) => {
      const e = ev.target;
      this.handlers.onEdge(e.data('kind'), e.source().id(), e.target().id());
    });
    cy.on('tap', (ev) => {
      if (ev.target === cy) this.handlers.onBackground();
    });
  }

  counts() {
    if (!this.cy) return { nodes: 0, edges: 0, conditionalEdges: 0, removedEdges: 0 };
    return {
      nodes: this.cy.nodes('.version').length,
      edges: this.cy.edges('.plain').length,
      conditionalEdges: this.cy.edges('.conditional').length,
      removedEdges: this.cy.edges('.removed').length,
    };
  }

  has(version) {
    return !!this.cy && this.cy.getElementById(version).nonempty();
  }

  // Emphasises eles, fades the rest (null: no emphasis).
  focus(eles) {
    const cy = this.cy;
    cy.batch(() => {
      cy.elements('.faded').removeClass('faded');
      cy.elements('.focus').removeClass('focus');
      if (!eles) return;
      cy.elements().not(eles).not('.band').addClass('faded');
      eles.addClass('focus');
    });
  }

  // Selects version's node, emphasises its updates in and out and centres it.
  selectNode(version, { center = true } = {}) {
    const node = this.cy.getElementById(version);
    if (node.empty()) return false;
    this.cy.elements(':selected').unselect();
    node.select();
    this.focus(node.closedNeighborhood().add(this.pathElements || this.cy.collection()));
    if (center) this.centre(node, Math.max(this.cy.zoom(), 1.2));
    return true;
  }

  // Animates the view to put node's centre (not its box, which holds the
  // label) in the middle of the canvas at zoom.
  centre(node, zoom) {
    const cy = this.cy;
    const p = node.position();
    cy.stop();
    cy.animate({ zoom, pan: { x: cy.width() / 2 - p.x * zoom, y: cy.height() / 2 - p.y * zoom } }, { duration: 300 });
  }

  selectEdge(kind, from, to) {
    const prefix = { plain: 'e', conditional: 'c', removed: 'b', jump: 'j' }[kind];
    const edge = this.cy.getElementById(`${prefix}:${edgeKey(from, to)}`);
    this.cy.elements(':selected').unselect();
    edge.select();
    this.focus(edge.connectedNodes().add(edge).add(this.pathElements || this.cy.collection()));
  }

  clearSelection() {
    this.cy.elements(':selected').unselect();
    this.focus(this.pathElements);
  }

  // blocked: [{from, to, file, from_regex, reason}]; returns how many were
  // not drawn because a version is not in this channel/arch.
  showRemoved(blocked) {
    this.hideRemoved();
    const elements = [];
    let missing = 0;
    for (const b of blocked) {
      if (!this.has(b.from) || !this.has(b.to)) {
        missing++;
        continue;
      }
      elements.push({ group: 'edges', data: { id: `b:${edgeKey(b.from, b.to)}`, source: b.from, target: b.to,
        kind: 'removed' }, classes: 'removed' });
    }
    this.cy.add(elements);
    return missing;
  }

  hideRemoved() {
    if (this.cy) this.cy.remove('edge.removed');
  }

  // hops: [{from, to}] as the path API answers them. Edges the graph does not
  // have (image-based jumps) are drawn for the path only.
  showPath(hops) {
    this.clearPath();
    const cy = this.cy;
    let eles = cy.collection();
    cy.batch(() => {
      for (const hop of hops) {
        let edge = cy.getElementById(`e:${edgeKey(hop.from, hop.to)}`);
        if (edge.empty()) edge = cy.getElementById(`c:${edgeKey(hop.from, hop.to)}`);
        if (edge.empty() && this.has(hop.from) && this.has(hop.to))
          edge = cy.add({ group: 'edges', data: { id: `j:${edgeKey(hop.from, hop.to)}`, source: hop.from,
            target: hop.to, kind: 'jump' }, classes: 'jump' });
        eles = eles.add(edge).add(cy.getElementById(hop.from)).add(cy.getElementById(hop.to));
      }
      eles.edges().addClass('path');
      eles.nodes().addClass('path');
    });
    this.pathElements = eles;
    this.focus(eles);
    if (eles.nonempty()) cy.animate({ fit: { eles, padding: 80 } }, { duration: 300 });
  }

  clearPath() {
    if (!this.cy) return;
    this.cy.remove('edge.jump');
    this.cy.elements('.path').removeClass('path');
    this.pathElements = null;
    this.focus(null);
  }

  // [[from, to]] of the highlighted hops, for the footer and the tests.
  pathPairs() {
    if (!this.cy) return [];
    return this.cy.edges('.path').map((e) => [e.source().id(), e.target().id()]);
  }
}
