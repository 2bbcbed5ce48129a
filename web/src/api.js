// api.js - the server's JSON routes, relative to the page (the page is served
// by cincy at / on the graph port, next to /api/upgrades_info).
export const API = '/api/upgrades_info/v1';

// An answer that was not usable: status (0 when the server was not reached),
// the server's own words in message, and the parsed body when there was one.
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  return q.toString();
}

// The message a person should see for an error body: cincy answers
// {"kind", "value"} for bad requests and {"error": {"reason", "message"}} for
// refused paths.
function messageOf(status, body, fallback) {
  if (body && body.error && body.error.message) return body.error.message;
  if (body && body.value) return `${body.kind}: ${body.value}`;
  return fallback || `HTTP ${status}`;
}

// GET route?params as JSON. okStatuses: statuses whose JSON body is an
// answer (the path routes answer a refusal with 400/404 and a full body).
export async function getJson(route, params = {}, okStatuses = [200]) {
  const url = `${API}/${route}?${query(params)}`;
  let response;
  // no-store: every view asks the server for its current graph, so the
  // browser never revalidates (If-None-Match -> 304) a stored copy.
  try {
    response = await fetch(url, { headers: { Accept: 'application/json' }, cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, `cannot reach the server: ${e.message}`);
  }
  let body = null;
  const text = await response.text();
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(response.status, `${url}: answer is not JSON (HTTP ${response.status})`);
  }
  if (!okStatuses.includes(response.status))
    throw new ApiError(response.status, messageOf(response.status, body, `${url}: HTTP ${response.status}`), body);
  return { status: response.status, body };
}

export const fetchChannels = () => getJson('channels').then((r) => r.body);
export const fetchGraph = (channel, arch) => getJson('graph', { channel, arch }).then((r) => r.body);
export const fetchBlocked = (channel, arch) => getJson('blocked', { channel, arch }).then((r) => r.body);
// Answers {status, body}; a refused path (400/404 with a path body) is an answer too.
export const fetchPlan = (params) => getJson('plan', params, [200, 400, 404]);
