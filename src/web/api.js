// The page's only door to the server: the REST calls and the job event stream, with the
// bearer token the user typed in (kept in this tab's sessionStorage) when the server asks.

const TOKEN_KEY = 'provis.token';

/** An API error: the server's `{"error":{"code","message"}}`, or a network failure. */
export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

export function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra = {}) {
  const h = { ...extra };
  const t = token();
  if (t) h.Authorization = `Bearer ${t}`;
  return h;
}

let askToken = null;
/** Called with no arguments when a request was refused for want of a token. */
export function onUnauthorized(fn) { askToken = fn; }

async function errorOf(resp) {
  let body = null;
  try { body = await resp.json(); } catch { /* not JSON */ }
  const e = body && body.error ? body.error : {};
  if (resp.status === 401 && askToken) askToken();
  return new ApiError(resp.status, e.code || `http_${resp.status}`, e.message || resp.statusText, body);
}

/** GET a JSON document. */
export async function getJson(path) {
  let resp;
  try {
    resp = await fetch(path, { headers: headers({ Accept: 'application/json' }) });
  } catch (err) {
    throw new ApiError(0, 'network', `cannot reach the server: ${err.message}`);
  }
  if (!resp.ok) throw await errorOf(resp);
  return resp.json();
}

/** POST /ingest with a zip; resolves to the 202 answer, rejects with the refusal. */
export async function upload(file, repo, onProgress) {
  const form = new FormData();
  form.append('file', file, file.name);
  if (repo) form.append('repo', repo);
  // XMLHttpRequest, for upload progress (fetch has none).
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/ingest');
    const t = token();
    if (t) xhr.setRequestHeader('Authorization', `Bearer ${t}`);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total); };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'the upload did not reach the server'));
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status === 202) return resolve(body);
      const e = body && body.error ? body.error : {};
      if (xhr.status === 401 && askToken) askToken();
      reject(new ApiError(xhr.status, e.code || `http_${xhr.status}`, e.message || xhr.statusText, body));
    };
    xhr.send(form);
  });
}

const cache = new Map();
/** An artifact of a snapshot (`tree`, `files`, `graph`, `summaries`, `capabilities`, `metrics`), fetched once. */
export function artifact(repoId, snapshotId, kind) {
  const key = `${repoId}/${snapshotId}/${kind}`;
  if (!cache.has(key)) {
    const p = getJson(`/repo/${encodeURIComponent(repoId)}/${kind}?snapshot_id=${encodeURIComponent(snapshotId)}`);
    p.catch(() => cache.delete(key));
    cache.set(key, p);
  }
  return cache.get(key);
}

/**
 * Follows `GET /jobs/{id}/events` until the terminal event. Reads the stream with fetch (so the
 * token can be sent, which EventSource cannot) and after a network blip reconnects with
 * `Last-Event-ID`, so no event is lost or repeated. Returns `stop()`.
 */
export function followEvents(jobId, { onEvent, onState, onEnd }) {
  let lastId = null;
  let stopped = false;
  let controller = null;
  let attempt = 0;
  let ended = false;

  const finish = (why) => { if (!ended) { ended = true; onEnd && onEnd(why); } };

  async function connect() {
    if (stopped) return;
    controller = new AbortController();
    const h = headers({ Accept: 'text/event-stream' });
    if (lastId !== null) h['Last-Event-ID'] = String(lastId);
    onState && onState(attempt ? 'reconnecting' : 'connecting', attempt);
    let terminal = false;
    try {
      const resp = await fetch(`/jobs/${encodeURIComponent(jobId)}/events`, { headers: h, signal: controller.signal });
      if (!resp.ok) {
        const err = await errorOf(resp);
        if (resp.status >= 400 && resp.status < 500) { onState && onState('failed', attempt, err); finish('refused'); return; }
        throw err;
      }
      onState && onState('live', attempt);
      attempt = 0;
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let cut;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const msg = parseBlock(block);
          if (!msg) continue;
          if (msg.id !== null) lastId = msg.id;
          let ev = null;
          try { ev = JSON.parse(msg.data); } catch { continue; }
          onEvent(ev);
          if (ev.type === 'done' || (ev.type === 'error' && ev.payload && ev.payload.terminal)) terminal = true;
        }
      }
    } catch (err) {
      if (stopped) return;
    }
    if (stopped) return;
    if (terminal) { onState && onState('ended', attempt); finish('terminal'); return; }
    attempt += 1;
    onState && onState('reconnecting', attempt);
    setTimeout(connect, Math.min(5000, 500 * attempt));
  }

  connect();
  return {
    stop() { stopped = true; if (controller) controller.abort(); },
    /** Breaks the connection as a network blip would (the stream then resumes). */
    drop() { if (controller) controller.abort(); },
  };
}

function parseBlock(block) {
  let id = null; const data = [];
  let any = false;
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? '' : line.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'id') id = value;
    else if (field === 'data') { data.push(value); any = true; }
  }
  return any ? { id, data: data.join('\n') } : null;
}
