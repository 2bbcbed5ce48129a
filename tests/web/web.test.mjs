// tests/web/web.test.mjs - browser tests of cincy's web page (issue 8).
// Usage: node tests/web/web.test.mjs <builddir>   (tests/web/run does this)
//
// Starts <builddir>/cincy serve on the bundled data (config/graph-data,
// <builddir>/demo-releases, <builddir>/web) on free ports, drives Debian's
// chromium headless through playwright-core, and checks the page against the
// server's own API answers. Screenshots go to <builddir>/web-test/.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const build = resolve(process.argv[2] || 'build');
const source = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const shots = join(build, 'web-test');
const chromiumPath = process.env.CINCY_CHROMIUM || '/usr/bin/chromium';
// Drawing a channel takes a second or two on an idle machine; a shared,
// loaded one (a CI runner, helpers building) can be 20 times slower.
const LOAD_TIMEOUT_MS = 240000;
// playwright-core is installed into the build dir (CMake target web-test-deps).
const { chromium } = createRequire(join(build, 'npm/web-tests/package.json'))('playwright-core');

// ---------------------------------------------------------------------------
// A real cincy on free ports

async function startCincy() {
  const dir = mkdtempSync(join(tmpdir(), 'cincy-web-test-'));
  const config = join(dir, 'cincy.yaml');
  writeFileSync(config, [
    'log_level: info',
    'graph: {address: 127.0.0.1, port: 0}',
    'status: {address: 127.0.0.1, port: 0}',
    'sources:',
    `  releases: {directory: ${join(build, 'demo-releases')}}`,
    `  graph_data: {directory: ${join(source, 'config/graph-data')}}`,
    `web: {directory: ${join(build, 'web')}}`,
    '',
  ].join('\n'));
  const proc = spawn(join(build, 'cincy'), ['serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const ports = await new Promise((resolvePorts, reject) => {
    const onData = (chunk) => {
      log += chunk;
      const m = /msg="listening" graph=[^ ]*:(\d+) status=[^ ]*:(\d+)/.exec(log);
      if (m) resolvePorts({ graph: Number(m[1]), status: Number(m[2]) });
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`cincy exited (${code}) before listening:\n${log}`)));
    setTimeout(() => reject(new Error(`cincy did not log its ports in 30 s:\n${log}`)), 30000);
  });
  const server = { proc, dir, base: `http://127.0.0.1:${ports.graph}`, status: `http://127.0.0.1:${ports.status}`,
    log: () => log };
  const deadline = Date.now() + 180000;
  for (;;) {
    const ready = await fetch(`${server.status}/readiness`).then((r) => r.ok, () => false);
    if (ready) return server;
    if (Date.now() > deadline) throw new Error(`cincy not ready in 180 s:\n${log}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function stopCincy(server) {
  const exited = new Promise((r) => server.proc.on('exit', (code, signal) => r({ code, signal })));
  server.proc.kill('SIGTERM');
  const status = await exited;
  rmSync(server.dir, { recursive: true, force: true });
  return status;
}

// ---------------------------------------------------------------------------
// The API, asked directly: what the page must agree with

let server;
async function api(route, params) {
  const r = await fetch(`${server.base}/api/upgrades_info/v1/${route}?${new URLSearchParams(params)}`,
    { headers: { Accept: 'application/json' } });
  return { status: r.status, body: await r.json() };
}

function graphCounts(graph) {
  const pairs = new Set();
  for (const group of graph.conditionalEdges || []) for (const e of group.edges) pairs.add(`${e.from}>${e.to}`);
  return { nodes: graph.nodes.length, edges: graph.edges.length, conditionalEdges: pairs.size };
}

// ---------------------------------------------------------------------------
// Tiny harness: named steps in order; a failure is reported and the rest run.

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

function assert(cond, message) {
  if (!cond) throw new Error(message);
}
function assertEq(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: got ${a}, want ${e}`);
}

// ---------------------------------------------------------------------------
// Page helpers

let page;
const problems = []; // console errors and page errors, with the step they happened in
let currentStep = '';

async function waitLoaded(channel, arch = 'amd64') {
  await page.waitForFunction(([c, a]) => window.cincyStats && window.cincyStats.channel === c &&
    window.cincyStats.arch === a && !window.cincyStats.loading && window.cincyStats.firstDrawMs !== null,
  [channel, arch], { timeout: LOAD_TIMEOUT_MS });
  return page.evaluate(() => ({ ...window.cincyStats }));
}

async function pickChannel(channel, arch = 'amd64') {
  await page.selectOption('#channel', channel);
  await page.selectOption('#arch', arch);
  return waitLoaded(channel, arch);
}

// Clicks the graph on edge id, a third of the way from its source (its
// midpoint is often shared with a symmetric edge), after centring it.
async function clickEdge(id) {
  const point = await page.evaluate((edgeId) => {
    const cy = window.cincy.graph.cy;
    const edge = cy.getElementById(edgeId);
    cy.stop();
    cy.zoom(2.5);
    cy.center(edge);
    const a = edge.source().renderedPosition();
    const b = edge.target().renderedPosition();
    const box = cy.container().getBoundingClientRect();
    return { x: box.left + a.x + (b.x - a.x) / 3, y: box.top + a.y + (b.y - a.y) / 3 };
  }, id);
  await page.mouse.click(point.x, point.y);
  await page.waitForTimeout(150);
}

async function clickNode(version) {
  const point = await page.evaluate((v) => {
    const cy = window.cincy.graph.cy;
    const node = cy.getElementById(v);
    cy.stop();
    cy.zoom(2);
    cy.center(node);
    const p = node.renderedPosition();
    const box = cy.container().getBoundingClientRect();
    return { x: box.left + p.x, y: box.top + p.y };
  }, version);
  await page.mouse.click(point.x, point.y);
  await page.waitForTimeout(150);
}

const text = (selector) => page.locator(selector).first().innerText();
const shot = (name) => page.screenshot({ path: join(shots, `${name}.png`) });

async function runPath({ from, to, mode = 'standard', risks = 'avoid' }) {
  await page.fill('#path-from', from);
  await page.fill('#path-to', to);
  await page.selectOption('#path-mode', mode);
  await page.setChecked('#path-risks', risks === 'accept');
  await page.click('#path-find');
  await page.waitForSelector('#path-result .path-summary, #path-result .error', { timeout: 30000 });
}

async function checkPathHighlight(channel, query) {
  await runPath(query);
  const { body } = await api('plan', { channel, arch: 'amd64', workers: 3, max_unavailable: 1, ...query });
  assert(!body.error, `the API refuses ${JSON.stringify(query)}: ${body.error && body.error.message}`);
  assert(body.hops.length > 0, 'the API path has no hops');
  const want = body.hops.map((h) => [h.from, h.to]).sort();
  const drawn = (await page.evaluate(() => window.cincy.graph.pathPairs())).sort();
  assertEq(drawn, want, `highlighted hops for ${JSON.stringify(query)}`);
  const listed = await page.locator('#path-result ol.hops li').count();
  assertEq(listed, body.hops.length, 'hops listed');
  const summary = await text('#path-result .path-summary');
  assert(summary.includes(`${body.from} → ${body.to}`), `summary "${summary}" names ${body.from} → ${body.to}`);
  return body;
}

// ---------------------------------------------------------------------------
// The tests

let channelsDoc;

test('page loads the default channel with no console errors', async () => {
  channelsDoc = (await api('channels', {})).body;
  await page.goto(`${server.base}/`);
  const stats = await waitLoaded(channelsDoc.default_channel);
  assertEq(await page.inputValue('#channel'), channelsDoc.default_channel, 'preselected channel');
  assert(stats.nodes > 0, 'the default channel draws versions');
  const options = await page.locator('#channel option').count();
  assertEq(options, channelsDoc.channels.length, 'channel options');
  assert(page.url().includes(`channel=${channelsDoc.default_channel}`), `hash of ${page.url()} names the channel`);
  assertEq(problems, [], 'console/page errors');
});

test('stable-4.16 amd64 draws exactly the nodes and edges of the graph API', async () => {
  const stats = await pickChannel('stable-4.16');
  const want = graphCounts((await api('graph', { channel: 'stable-4.16', arch: 'amd64' })).body);
  assertEq({ nodes: stats.nodes, edges: stats.edges, conditionalEdges: stats.conditionalEdges }, want, 'drawn counts');
  const footer = await text('#stats');
  assert(footer.includes(`${want.nodes} versions`) && footer.includes('first draw'), `footer "${footer}"`);
  await shot('stable-4.16');
});

test('clicking a version shows its payload, errata link and updates', async () => {
  const graph = (await api('graph', { channel: 'stable-4.16', arch: 'amd64' })).body;
  const node = graph.nodes.find((n) => n.version.startsWith('4.16.')) || graph.nodes[0];
  await clickNode(node.version);
  assertEq(await text('#details h2'), node.version, 'panel title');
  assertEq(await text('#details .payload-text'), node.payload, 'payload');
  if (node.metadata.url) assertEq(await page.locator(`#details a[href="${node.metadata.url}"]`).count() > 0, true, 'errata link');
  const index = graph.nodes.indexOf(node);
  const out = graph.edges.filter(([a]) => a === index).length +
    graph.conditionalEdges.reduce((n, g) => n + g.edges.filter((e) => e.from === node.version).length, 0);
  assert((await text('#details')).includes(`Updates to (${out})`), `panel lists ${out} updates out`);
});

test('clicking a conditional edge shows its risks: name, message, rule', async () => {
  const graph = (await api('graph', { channel: 'stable-4.16', arch: 'amd64' })).body;
  const risksOf = new Map();
  for (const g of graph.conditionalEdges)
    for (const e of g.edges) risksOf.set(`${e.from}>${e.to}`, [...(risksOf.get(`${e.from}>${e.to}`) || []), ...g.risks]);
  assert(risksOf.size > 0, 'stable-4.16 has conditional edges');
  // The topmost edge under the midpoint may be another conditional edge over
  // this one: whichever the panel shows must match the API exactly.
  let shown = null;
  for (const key of [...risksOf.keys()].slice(0, 10)) {
    await clickEdge(`c:${key}`);
    const title = await page.locator('#details .edge-title').count() ? await text('#details .edge-title') : '';
    const m = /^(\S+) → (\S+)$/.exec(title.trim());
    if (m && risksOf.has(`${m[1]}>${m[2]}`)) {
      shown = `${m[1]}>${m[2]}`;
      break;
    }
  }
  assert(shown, 'a click on a conditional edge never showed a conditional edge');
  const want = risksOf.get(shown);
  assertEq(await page.locator('#details .risk-name').allInnerTexts(), want.map((r) => r.name), `risk names of ${shown}`);
  assertEq(await page.locator('#details .risk-message').allInnerTexts(), want.map((r) => r.message.trim()), 'risk messages');
  const promql = want.flatMap((r) => r.matchingRules.filter((x) => x.type === 'PromQL'));
  assertEq(await page.locator('#details pre.promql code').count(), promql.length, 'PromQL rules shown as code');
  await shot('conditional-edge');
});

test('path view highlights the hops of a z-stream path', async () => {
  const graph = (await api('graph', { channel: 'stable-4.16', arch: 'amd64' })).body;
  const z = graph.nodes.map((n) => n.version).filter((v) => /^4\.16\.\d+$/.test(v))
    .sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2]));
  const body = await checkPathHighlight('stable-4.16', { from: z[0], to: '4.16' });
  assert(body.plan && body.plan.totalMinutes, 'the plan estimate is in the answer');
  assert((await text('#path-result .plan-total')).startsWith('about '), 'estimate shown');
});

test('path view explains a refusal with the API message', async () => {
  const query = { from: '4.15.10', to: '4.16.3' };
  await runPath(query);
  const { status, body } = await api('path', { channel: 'stable-4.16', arch: 'amd64', ...query });
  assert(status !== 200 && body.error, `the API refuses ${JSON.stringify(query)} (status ${status})`);
  assertEq(await text('#path-result .path-refusal'), body.error.message, 'refusal message');
  assertEq(await page.evaluate(() => window.cincy.graph.pathPairs()), [], 'no hops highlighted');
});

test('path view highlights the hops of an EUS path (eus-4.16, 4.14.8 -> 4.16)', async () => {
  await pickChannel('eus-4.16');
  const body = await checkPathHighlight('eus-4.16', { from: '4.14.8', to: '4.16', mode: 'eus' });
  assert(body.hopCount >= 2, 'an EUS path crosses two minors');
  assert((await text('#path-result')).includes('pause worker pools'), 'worker-pool note shown');
  await shot('path-eus');
});

test('show edges removed by graph-data: the count the blocked API returns', async () => {
  // The first channel (newest first) whose blocked-edges answer is not empty.
  let channel = null;
  let blocked = null;
  const names = channelsDoc.channels.filter((c) => c.arches.includes('amd64')).map((c) => c.name).reverse();
  for (const name of ['stable-4.16', ...names]) {
    blocked = (await api('blocked', { channel: name, arch: 'amd64' })).body;
    if (blocked.edges && blocked.edges.length) {
      channel = name;
      break;
    }
  }
  assert(channel, 'no channel has removed edges');
  await pickChannel(channel);
  await page.setChecked('#removed', true);
  await page.waitForFunction(() => /removed edge/.test(document.getElementById('removed-count').textContent));
  const n = blocked.edges.length;
  assertEq((await text('#removed-count')).split(' ')[0], String(n), `removed edges in ${channel}`);
  assertEq(await page.evaluate(() => window.cincyStats.removedEdges), n, 'removed edges drawn');
  // As with conditional edges: the panel must show the removed edge clicked
  // or one drawn over it, with its blocked-edges entry.
  let entry = null;
  for (const e of blocked.edges.slice(0, 10)) {
    await clickEdge(`b:${e.from}>${e.to}`);
    const title = await page.locator('#details .edge-title').count() ? await text('#details .edge-title') : '';
    const m = /^(\S+) → (\S+)$/.exec(title.trim());
    entry = m && blocked.edges.find((b) => b.from === m[1] && b.to === m[2]);
    if (entry) break;
  }
  assert(entry, 'a click on a removed edge never showed a removed edge');
  assertEq(await text('#details .blocked-file'), entry.file, 'blocked-edges file');
  if (typeof entry.reason === 'string') assert((await text('#details')).includes(entry.reason.trim().slice(0, 40)), 'reason shown');
  await shot('removed-edges');
  await page.setChecked('#removed', false);
});

test('search centres and selects a version', async () => {
  await pickChannel('stable-4.16');
  const graph = (await api('graph', { channel: 'stable-4.16', arch: 'amd64' })).body;
  const version = graph.nodes[Math.floor(graph.nodes.length / 2)].version;
  await page.fill('#search', version);
  await page.press('#search', 'Enter');
  await page.waitForTimeout(600); // the centring animation takes 300 ms
  const where = await page.evaluate((v) => {
    const cy = window.cincy.graph.cy;
    const node = cy.getElementById(v);
    const p = node.renderedPosition();
    return { dx: Math.abs(p.x - cy.width() / 2), dy: Math.abs(p.y - cy.height() / 2), selected: node.selected() };
  }, version);
  assert(where.selected, `${version} is selected`);
  assert(where.dx < 3 && where.dy < 3, `${version} is centred (off by ${where.dx}, ${where.dy} px)`);
  assertEq(await text('#details h2'), version, 'panel title');
  await page.fill('#search', '9.9.9');
  await page.press('#search', 'Enter');
  assert((await text('#search-status')).includes('9.9.9 is not in stable-4.16'), 'an unknown version is explained');
});

test('a link with the hash reproduces the view', async () => {
  const url = `${server.base}/#channel=eus-4.16&arch=amd64&select=4.14.8&from=4.14.8&to=4.16&mode=eus&risks=avoid`;
  const context = await page.context().browser().newContext({ viewport: { width: 1400, height: 900 } });
  const other = await context.newPage();
  watch(other, 'second page');
  await other.goto(url);
  await other.waitForFunction(() => window.cincyStats && !window.cincyStats.loading &&
    window.cincyStats.channel === 'eus-4.16', null, { timeout: LOAD_TIMEOUT_MS });
  await other.waitForSelector('#path-result .path-summary', { timeout: 30000 });
  assertEq(await other.inputValue('#channel'), 'eus-4.16', 'channel from the hash');
  assertEq(await other.inputValue('#path-mode'), 'eus', 'mode from the hash');
  assertEq((await other.locator('#details h2').innerText()), '4.14.8', 'selection from the hash');
  await context.close();
});

test('the largest channel draws without freezing (time to first draw)', async () => {
  // Largest by edges drawn, over every amd64 channel.
  let largest = null;
  for (const c of channelsDoc.channels.filter((x) => x.arches.includes('amd64'))) {
    const counts = graphCounts((await api('graph', { channel: c.name, arch: 'amd64' })).body);
    const total = counts.edges + counts.conditionalEdges;
    if (!largest || total > largest.total) largest = { channel: c.name, total, ...counts };
  }
  await page.setViewportSize({ width: 1600, height: 1000 });
  await page.selectOption('#channel', largest.channel);
  const stats = await waitLoaded(largest.channel);
  assertEq({ nodes: stats.nodes, edges: stats.edges, conditionalEdges: stats.conditionalEdges },
    { nodes: largest.nodes, edges: largest.edges, conditionalEdges: largest.conditionalEdges }, 'drawn counts');
  // The page still answers at once (no long task holding the main thread).
  const t0 = Date.now();
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
  const frameMs = Date.now() - t0;
  console.log(`web: time to first draw ${largest.channel} ${stats.nodes} nodes ${stats.edges + stats.conditionalEdges} edges: ` +
    `${Math.round(stats.firstDrawMs)} ms (next frame ${frameMs} ms, load average ${loadavg()[0].toFixed(1)})`);
  // Generous bounds: the machine may be shared; a freeze is minutes, or a
  // main thread still busy after the first frame.
  assert(stats.firstDrawMs < 60000, `first draw took ${Math.round(stats.firstDrawMs)} ms`);
  assert(frameMs < 15000, `the next frame took ${frameMs} ms`);
  await shot('largest');
});

test('reloading the page works (index.html is revalidated: 304)', async () => {
  const response = await page.reload().catch((e) => ({ error: e.message.split('\n')[0] }));
  for (let i = problems.length - 1; i >= 0; i--) if (problems[i].includes(currentStep)) problems.splice(i, 1);
  assert(!response.error, `reload failed: ${response.error} (two Content-Length headers on the 304?)`);
  await page.waitForFunction(() => window.cincyStats && !window.cincyStats.loading && window.cincyStats.firstDrawMs !== null,
    null, { timeout: LOAD_TIMEOUT_MS });
});

test('the browser accepts cincy\'s 304 for a revalidated graph', async () => {
  // The page itself asks with cache: 'no-store'; a browser's own cache (or
  // any fetch() with the default cache mode) revalidates with If-None-Match.
  const result = await page.evaluate(async () => {
    const url = '/api/upgrades_info/v1/graph?channel=stable-4.16&arch=amd64';
    const get = () => fetch(url, { headers: { Accept: 'application/json' } })
      .then(async (r) => ({ status: r.status, length: (await r.text()).length }), (e) => ({ error: String(e) }));
    return [await get(), await get()];
  });
  // this step's own failed load is reported here, not again as a page error
  for (let i = problems.length - 1; i >= 0; i--) if (problems[i].includes(currentStep)) problems.splice(i, 1);
  assert(!result[1].error, `the second (revalidated) fetch failed: ${result[1].error} ` +
    '(two Content-Length headers on the 304?)');
  assertEq(result[1], result[0], 'the revalidated answer');
});

test('no console errors or page errors in the whole run', async () => {
  assertEq(problems, [], 'console/page errors');
});

// ---------------------------------------------------------------------------

// A refused path is an answer (400/404 with a JSON body the page shows), but
// Chromium logs every 4xx fetch as "Failed to load resource": those, and only
// those, are not errors of the page.
function expectedRefusal(msg) {
  return /status of 40[04]/.test(msg.text()) && /\/v1\/(plan|path)\?/.test(msg.location().url || '');
}

function watch(p, label) {
  p.on('console', (msg) => {
    if ((msg.type() === 'error' || msg.type() === 'warning') && !expectedRefusal(msg))
      problems.push(`${label} ${currentStep}: console.${msg.type()}: ${msg.text()}`);
  });
  p.on('pageerror', (err) => problems.push(`${label} ${currentStep}: page error: ${err.message}`));
}

async function main() {
  rmSync(shots, { recursive: true, force: true }); // no screenshot of an earlier run left over
  mkdirSync(shots, { recursive: true });
  let passed = 0;
  let failed = 0;
  let browser;
  try {
    server = await startCincy();
    const args = process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [];
    browser = await chromium.launch({ executablePath: chromiumPath, args });
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    watch(page, 'page');
    for (const t of tests) {
      currentStep = t.name;
      const t0 = Date.now();
      try {
        await t.fn();
        passed++;
        console.log(`ok - ${t.name} (${Date.now() - t0} ms)`);
      } catch (e) {
        failed++;
        console.log(`FAIL - ${t.name}: ${e.message}`);
        await shot(`failed-${passed + failed}`).catch(() => {});
      }
    }
  } catch (e) {
    failed++;
    console.log(`FAIL - setup: ${e.stack || e.message}`);
  } finally {
    if (browser) await browser.close();
    if (server) {
      const status = await stopCincy(server);
      const log = server.log();
      if (/ERROR: (Address|Leak)Sanitizer|runtime error:/.test(log) || status.code) {
        failed++;
        console.log(`FAIL - cincy stopped cleanly (exit ${status.code}, signal ${status.signal}):\n${log.slice(-4000)}`);
      }
    }
  }
  console.log(`web tests: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main();
