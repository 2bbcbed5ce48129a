// dom.js - building DOM from data without innerHTML, so text from graph-data
// or release metadata is never parsed as markup.

// h('a', {href: u, class: 'x', onclick: f}, 'text', child, [more]) -> element.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

// Only http(s) URLs become links; anything else stays text.
export function link(url, text) {
  if (typeof url === 'string' && /^https?:\/\//.test(url))
    return h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, text || url);
  return h('span', {}, text || String(url));
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// Replaces el's content with children (nested arrays flattened; null,
// undefined and false skipped).
export function fill(el, ...children) {
  append(clear(el), children);
  return el;
}
