// The persistence lab page: pick a layer, channels and consent; the panel is the live answer of
// GET /v1/lab/plan. The service role key stays in this tab (sessionStorage) and is sent only as
// the Authorization header. Everything the server says is put in the page as text, never HTML.
'use strict';

const PURPOSES = ['email_delivery', 'passport_sync', 'public_share', 'gift_delivery', 'ai_processing', 'marketing'];
const $ = (id) => document.getElementById(id);
let menu = null;

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('data-')) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) node.append(c);
  return node;
}

function query() {
  const p = new URLSearchParams();
  p.set('layer', $('layer').value || 'readings');
  if (!menu) return p; // the first call: the server's defaults, and the menu to build
  p.set('channels', [...document.querySelectorAll('#channels input:checked')].map((i) => i.value).join(','));
  if (document.querySelector('input[name=consent-source]:checked').value === 'ledger') {
    if ($('user').value.trim()) p.set('user', $('user').value.trim());
  } else {
    p.set('consent', PURPOSES.filter((x) => $(`consent-${x}`).checked).join(','));
  }
  return p;
}

let asked = 0; // answers can come back out of order: only the latest question's is drawn

async function refresh() {
  const mine = ++asked;
  const res = await fetch(`/v1/lab/plan?${query()}`, { headers: { Authorization: `Bearer ${sessionStorage.getItem('sk-lab-key')}` } });
  const body = await res.json().catch(() => ({}));
  if (mine !== asked) return;
  if (!res.ok) {
    if (res.status === 401 || res.status === 403) return showConnect(body.detail || 'the key was refused');
    $('plan-error').hidden = false;
    $('plan-error').textContent = body.detail || `the lab answered ${res.status}`;
    return;
  }
  $('plan-error').hidden = true;
  $('connect').hidden = true;
  $('lab').hidden = false;
  if (!menu) buildControls(body);
  render(body);
}

function showConnect(why) {
  sessionStorage.removeItem('sk-lab-key');
  $('connect').hidden = false;
  $('lab').hidden = true;
  $('connect-error').hidden = false;
  $('connect-error').textContent = why;
}

function buildControls(plan) {
  menu = plan.layers;
  $('layer').replaceChildren(...menu.map((l) => el('option', { value: l.name, text: l.title })));
  $('layer').value = plan.layer.name;
  $('layer').addEventListener('change', () => { buildChannels(true); refresh(); });
  buildChannels(true);
  $('consent-flags').replaceChildren(...PURPOSES.map((p) => el('label', {},
    el('input', { type: 'checkbox', id: `consent-${p}`, value: p, onchange: refresh }), p)));
  for (const r of document.querySelectorAll('input[name=consent-source]')) {
    r.addEventListener('change', () => {
      const ledger = r.value === 'ledger' && r.checked;
      $('user').hidden = !ledger;
      $('consent-flags').hidden = ledger;
      refresh();
    });
  }
  $('user').addEventListener('change', refresh);
}

function buildChannels(all) {
  const layer = menu.find((l) => l.name === $('layer').value);
  $('channels').replaceChildren(...layer.channels.map((c) => el('label', { title: c.title },
    el('input', { type: 'checkbox', value: c.name, checked: all, onchange: refresh, 'data-channel': c.name }), c.name)));
}

function cell(text, cls) { return el('td', { text: String(text), class: cls || '' }); }

function render(plan) {
  const s = plan.summary;
  const selected = plan.channels.filter((c) => c.selected);
  $('summary').replaceChildren(
    el('span', { class: `chip ${selected.every((c) => c.ready) ? 'ok' : 'bad'}`, id: 'ready-chip',
                 text: `${selected.filter((c) => c.ready).length} of ${selected.length} channels ready` }),
    el('span', { class: `chip ${s.violations ? 'bad' : 'ok'}`, id: 'violations-chip', text: `${s.violations} violation${s.violations === 1 ? '' : 's'} now` }),
    el('span', { class: `chip ${s.missing_consent ? 'bad' : 'ok'}`, id: 'consent-chip', text: `${s.missing_consent} consent missing` }),
    el('span', { class: `chip ${s.missing_env ? 'bad' : 'ok'}`, id: 'env-chip', text: `${s.missing_env} variable${s.missing_env === 1 ? '' : 's'} missing` }));

  $('channel-cards').replaceChildren(...plan.channels.map((c) => {
    const why = [...c.missing.handlers.map((h) => `no handler for ${h}`), ...c.missing.env.map((e) => `${e} missing`),
                 ...c.missing.consent.map((p) => `needs ${p}`)];
    return el('div', { class: 'channel', 'data-channel': c.name, 'data-ready': String(c.ready), 'data-selected': String(c.selected) },
      el('span', { class: 'state', text: c.ready ? 'ready' : 'not ready' }),
      el('strong', { text: c.title }),
      el('div', { class: 'why', text: why.length ? why.join(' · ') : `jobs: ${c.jobs.join(', ') || 'none'}` }));
  }));

  $('risks').replaceChildren(...plan.risks.map((r) => el('div', { class: 'risk', 'data-risk': r.name, 'data-violations': r.violations === null ? 'error' : String(r.violations) },
    el('div', { class: 'count', text: r.violations === null ? '?' : String(r.violations) }),
    el('div', {}, el('div', { class: 'name', text: r.name }), el('div', { class: 'what', text: r.risk }),
       el('div', { class: 'how', text: r.error ? `the check failed: ${r.error}` : `mitigation: ${r.mitigation}` })))));

  $('tables').tBodies[0].replaceChildren(...plan.tables.map((t) => el('tr', { 'data-table': t.name },
    cell(t.name), cell(t.present ? 'yes' : 'MISSING', t.present ? 'ok' : 'bad'), cell(t.rls ? 'on' : 'OFF', t.rls ? 'ok' : 'bad'),
    cell(t.policies.map((p) => `${p.name} (${p.command} to ${p.roles.join(', ')})`).join('; ') || 'none', t.policies.length ? '' : 'bad'))));

  $('jobs').tBodies[0].replaceChildren(...plan.jobs.map((j) => el('tr', { 'data-job': j.kind },
    cell(j.kind), cell(j.handler ? 'yes' : 'NO', j.handler ? 'ok' : 'bad'), cell(j.queued, 'num'),
    cell(j.dead, `num ${j.dead ? 'bad' : ''}`), cell(j.unknown, `num ${j.unknown ? 'bad' : ''}`))));
  if (!plan.jobs.length) $('jobs').tBodies[0].replaceChildren(el('tr', {}, el('td', { colSpan: 5, text: 'the selected channels enqueue no job' })));

  $('env').replaceChildren(...plan.env.map((e) => el('li', { 'data-env': e.name, 'data-state': e.state, text: `${e.name}: ${e.state}` })));

  const list = (xs) => xs.join(', ') || 'none';
  $('consent').replaceChildren(
    el('dt', { text: 'read from' }), el('dd', { text: plan.consent.source === 'ledger' ? "the person's ledger" : 'the choices above' }),
    el('dt', { text: 'required' }), el('dd', { text: list(plan.consent.required) }),
    el('dt', { text: 'given' }), el('dd', { text: list(plan.consent.given) }),
    el('dt', { text: 'missing' }), el('dd', { id: 'consent-missing', class: plan.consent.missing.length ? 'bad-text' : '', text: list(plan.consent.missing) }));

  $('facts').tBodies[0].replaceChildren(...plan.facts.map((f) => el('tr', {},
    cell(f.fact), cell(f.table), cell(f.job || '—'), cell(f.risk))));
}

document.addEventListener('DOMContentLoaded', () => {
  $('connect-button').addEventListener('click', () => {
    sessionStorage.setItem('sk-lab-key', $('key').value.trim());
    $('key').value = '';
    refresh();
  });
  $('key').addEventListener('keydown', (e) => { if (e.key === 'Enter') $('connect-button').click(); });
  if (sessionStorage.getItem('sk-lab-key')) refresh();
});
