// path.js - the path view: from/to/mode/risks, asks /v1/plan, highlights the
// hops on the graph and lists hops, risks and the duration estimate; a
// refusal shows the API's own message and what blocks the way.
import { ApiError, fetchPlan } from './api.js';
import { clear, fill, h, link } from './dom.js';
import { renderRisk } from './panel.js';

const MODES = { standard: 'standard', eus: 'EUS-to-EUS', ibu: 'image-based (SNO)' };

function minutes(range) {
  if (!range) return '';
  const fmt = (m) => (m >= 60 ? `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min` : `${m} min`);
  return range.min === range.max ? fmt(range.min) : `${fmt(range.min)} – ${fmt(range.max)}`;
}

function hopList(answer, go) {
  return h('ol', { class: 'hops' }, answer.hops.map((hop) => h('li', { class: 'hop' },
    h('button', { type: 'button', class: 'version-link', onclick: () => go(hop.from) }, hop.from), ' → ',
    h('button', { type: 'button', class: 'version-link', onclick: () => go(hop.to) }, hop.to),
    hop.conditional ? h('span', { class: 'tag conditional' }, (hop.risks || []).map((r) => r.name || r).join(', ') || 'conditional') : null,
    hop.note ? h('div', { class: 'note' }, hop.note) : null)));
}

function planSummary(plan) {
  if (!plan) return null;
  return h('section', { class: 'plan' },
    h('h3', {}, 'Estimate'),
    h('p', { class: 'plan-total' }, `about ${minutes(plan.totalMinutes)} in all`,
      plan.pools ? ` (${plan.pools.map((p) => `${p.name}: ${p.nodes} nodes, ${p.maxUnavailable} at a time`).join('; ')})` : ''),
    plan.hops && plan.hops.length ? h('ul', { class: 'plan-hops' }, plan.hops.map((hop) => h('li', {},
      `${hop.from} → ${hop.to}: `,
      hop.cvoMinutes ? `CVO ${minutes(hop.cvoMinutes)}` : '',
      hop.mcoMinutes ? `, nodes ${minutes(hop.mcoMinutes)}` : '',
      hop.ibuPrepMinutes ? `prep ${minutes(hop.ibuPrepMinutes)}, upgrade ${minutes(hop.ibuUpgradeMinutes)}` : '',
      hop.rough ? ' (rough)' : ''))) : null,
    plan.pausedPools ? h('p', {}, `paused pools after hop ${plan.pausedPools.unpauseAfterHop}: ${minutes(plan.pausedPools.mcoMinutes)}`) : null,
    (plan.caveats || []).length ? h('details', {}, h('summary', {}, 'Caveats and assumptions'),
      h('ul', {}, [...(plan.caveats || []), ...(plan.assumptions || [])].map((c) => h('li', {}, c)))) : null);
}

function blockingList(blocking) {
  if (!blocking || !blocking.length) return null;
  return [h('h3', {}, 'What blocks it'), h('ul', { class: 'blocking' }, blocking.map((b) => h('li', {},
    b.from ? `${b.from} → ${b.to}: conditional, risks ` : `into ${b.to}: `,
    b.risks ? b.risks.map((r, i) => [i ? ', ' : '', r.url ? link(r.url, r.name) : r.name]) : null,
    b.label ? [h('code', {}, b.label), ' from ', h('code', {}, b.fromRegex)] : null)))];
}

export class PathView {
  // form: the <form>; result: where answers go; graph: GraphView; state():
  // {channel, arch}; go(version): select a version; onChange(): hash update.
  constructor(form, result, graph, state, go, onChange) {
    Object.assign(this, { form, result, graph, state, go, onChange });
    this.answer = null;
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.run();
    });
    form.querySelector('#path-clear').addEventListener('click', () => this.clear());
  }

  params() {
    const f = this.form.elements;
    return { from: f.from.value.trim(), to: f.to.value.trim(), mode: f.mode.value,
      risks: f.risks.checked ? 'accept' : 'avoid', workers: f.workers.value, max_unavailable: f.max_unavailable.value };
  }

  setParams(p) {
    const f = this.form.elements;
    if (p.from !== undefined) f.from.value = p.from;
    if (p.to !== undefined) f.to.value = p.to;
    if (p.mode && MODES[p.mode]) f.mode.value = p.mode;
    if (p.risks) f.risks.checked = p.risks === 'accept';
  }

  clear() {
    this.answer = null;
    this.graph.clearPath();
    clear(this.result);
    this.form.elements.from.value = '';
    this.form.elements.to.value = '';
    this.onChange();
  }

  async run() {
    const p = this.params();
    const { channel, arch } = this.state();
    this.onChange();
    if (!p.from || !p.to) {
      this.showError('Give a version to start from and one to reach (a version, 4.y or latest).');
      return;
    }
    fill(this.result, h('p', { class: 'muted' }, 'searching…'));
    this.form.setAttribute('aria-busy', 'true');
    try {
      const { status, body } = await fetchPlan({ channel, arch, ...p });
      if (body && body.error) this.showRefusal(body);
      else if (status !== 200) this.showError(body && body.value ? `${body.kind}: ${body.value}` : `HTTP ${status}`);
      else this.showAnswer(body);
    } catch (e) {
      this.showError(e instanceof ApiError ? e.message : String(e));
    } finally {
      this.form.removeAttribute('aria-busy');
    }
  }

  showError(message) {
    this.answer = null;
    this.graph.clearPath();
    fill(this.result, h('p', { class: 'error', role: 'alert' }, message));
  }

  showRefusal(body) {
    this.answer = body;
    this.graph.clearPath();
    fill(this.result,
      h('p', { class: 'error path-refusal', role: 'alert' }, body.error.message),
      blockingList(body.blocking));
  }

  showAnswer(answer) {
    this.answer = answer;
    this.graph.showPath(answer.hops);
    const risks = answer.risks || [];
    fill(this.result,
      h('p', { class: 'path-summary' }, `${answer.from} → ${answer.to}: ${answer.hopCount} hop${answer.hopCount === 1 ? '' : 's'}, `,
        `${MODES[answer.mode] || answer.mode}, risks ${answer.riskPolicy}`),
      answer.workerPools ? h('p', { class: 'note' }, `pause worker pools before hop ${answer.workerPools.pauseBeforeHop}, `,
        `unpause after hop ${answer.workerPools.unpauseAfterHop}: workers reboot ${answer.workerPools.workerReboots} time(s)`) : null,
      hopList(answer, this.go),
      risks.length ? [h('h3', {}, `Risks accepted (${risks.length})`), risks.map(renderRisk)] : null,
      planSummary(answer.plan));
  }
}
