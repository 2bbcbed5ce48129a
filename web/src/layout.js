// layout.js - node positions from semver: versions left to right, one column
// band per minor (4.14, 4.15, ...), the z-streams of a minor ordered inside
// its band column by column, top to bottom. No generic graph layout keeps
// semver order, so the positions are computed here and handed to cytoscape's
// "preset" layout.
import { compareParsed, minorOf, parseVersion } from './semver.js';

export const CELL_WIDTH = 84;
export const CELL_HEIGHT = 38;
const BAND_GAP = 70;
// Odd rows are pushed right by this share of a cell so that an edge between
// two nodes of one column does not run over the nodes between them.
const STAGGER = 0.42;

// Rows per column: the count whose drawing is closest to a wide screen
// (width / height = TARGET_ASPECT), within 4..24 rows.
const TARGET_ASPECT = 1.6;

function widthFor(bands, rows) {
  let width = 0;
  for (const b of bands) width += Math.ceil(b.versions.length / rows) * CELL_WIDTH + BAND_GAP;
  return width;
}

function rowsFor(bands) {
  let best = 4;
  let bestScore = Infinity;
  for (let rows = 4; rows <= 24; rows++) {
    const score = Math.abs(Math.log(widthFor(bands, rows) / (rows * CELL_HEIGHT) / TARGET_ASPECT));
    if (score < bestScore) [best, bestScore] = [rows, score];
  }
  return best;
}

function groupByMinor(versions) {
  const parsed = versions.map(parseVersion).sort(compareParsed);
  const bands = [];
  for (const p of parsed) {
    const minor = minorOf(p);
    if (!bands.length || bands[bands.length - 1].minor !== minor) bands.push({ minor, versions: [] });
    bands[bands.length - 1].versions.push(p.text);
  }
  return bands;
}

// Returns {positions: Map(version -> {x, y}), bands: [{minor, versions, x0, x1}],
// rows, height}: x0..x1 and 0..height are the centres of a band's versions.
export function semverLayout(versions) {
  const bands = groupByMinor(versions);
  const rows = rowsFor(bands);
  const positions = new Map();
  let x0 = 0;
  for (const band of bands) {
    const columns = Math.ceil(band.versions.length / rows);
    band.versions.forEach((version, i) => {
      const col = Math.floor(i / rows);
      const row = i % rows;
      positions.set(version, {
        x: x0 + col * CELL_WIDTH + (row % 2) * CELL_WIDTH * STAGGER,
        y: row * CELL_HEIGHT,
      });
    });
    band.x0 = x0;
    band.x1 = x0 + (columns - 1) * CELL_WIDTH + CELL_WIDTH * STAGGER;
    x0 = band.x1 + CELL_WIDTH + BAND_GAP;
  }
  return { positions, bands, rows, height: (rows - 1) * CELL_HEIGHT };
}
