// How values cross between a JavaScript candidate and its judge: JSON, with
// tagged objects ({$: tag, v: ...}) for what JSON cannot say.  `dec` builds
// only plain data of the realm it runs in (the judge's): no getter, proxy,
// prototype or function of the other side ever crosses.  Both ends include
// this file; `enc` runs where the value was made (`instanceof Map` is per realm).
const CODEC_MAX_DEPTH = 2000;
const TYPED = ['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array',
  'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array'];
const ERRORS = {Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError};

function enc(value, depth = 0, seen = new Set()) {
  if (depth > CODEC_MAX_DEPTH) throw new RangeError('a value nested too deeply to cross');
  switch (typeof value) {
    case 'string': case 'boolean': return value;
    case 'number':
      if (Object.is(value, -0)) return {$: 'n', v: '-0'};
      return Number.isFinite(value) ? value : {$: 'n', v: String(value)};
    case 'undefined': return {$: 'u'};
    case 'bigint': return {$: 'b', v: value.toString()};
    case 'symbol': return {$: 'y', v: String(value.description)};
    case 'function': throw new TypeError('a function cannot cross between the program and its tests');
  }
  if (value === null) return null;
  if (seen.has(value)) throw new TypeError('a cyclic value cannot cross between the program and its tests');
  seen.add(value);
  try {
    const inner = (item) => enc(item, depth + 1, seen);
    if (Array.isArray(value)) {
      const items = Array.from(value, inner);
      for (let i = 0; i < value.length; i++) {  // a sparse array keeps its holes
        if (!(i in value)) return {$: 'h', v: [value.length, items.flatMap((item, at) => (at in value ? [[at, item]] : []))]};
      }
      return items;
    }
    if (value instanceof Map) return {$: 'm', v: Array.from(value, ([k, v]) => [inner(k), inner(v)])};
    if (value instanceof Set) return {$: 's', v: Array.from(value, inner)};
    if (value instanceof Date) return {$: 'd', v: String(value.getTime())};
    if (value instanceof RegExp) return {$: 'r', v: [value.source, value.flags]};
    if (value instanceof Error) return {$: 'e', v: [String(value.name), String(value.message)]};
    if (ArrayBuffer.isView(value) && TYPED.includes(value.constructor.name)) {
      return {$: 't', v: [value.constructor.name, Array.from(value, inner)]};
    }
    return {$: 'o', v: Object.keys(value).map((k) => [k, inner(value[k])])};
  } finally {
    seen.delete(value);
  }
}

function malformed() {
  return new TypeError('a malformed value came from the program');
}

function list(v) {
  if (!Array.isArray(v)) throw malformed();
  return v;
}

function pairs(v) {
  return list(v).map((pair) => {
    if (!Array.isArray(pair) || pair.length !== 2) throw malformed();
    return pair;
  });
}

function dec(x, depth = 0) {
  if (depth > CODEC_MAX_DEPTH) throw malformed();
  if (x === null || typeof x === 'string' || typeof x === 'boolean' || typeof x === 'number') return x;
  if (Array.isArray(x)) return x.map((item) => dec(item, depth + 1));
  if (typeof x !== 'object') throw malformed();
  const inner = (item) => dec(item, depth + 1);
  const v = Object.prototype.hasOwnProperty.call(x, 'v') ? x.v : undefined;
  switch (Object.prototype.hasOwnProperty.call(x, '$') ? x.$ : null) {
    case 'u': return undefined;
    case 'n':
      if (v === '-0') return -0;
      if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return Number(v);
      throw malformed();
    case 'b': if (typeof v === 'string' && /^-?\d{1,100000}$/.test(v)) return BigInt(v); throw malformed();
    case 'y': return Symbol(String(v));
    case 'm': return new Map(pairs(v).map(([k, item]) => [inner(k), inner(item)]));
    case 's': return new Set(list(v).map(inner));
    case 'h': {
      const length = list(v)[0];
      if (!Number.isSafeInteger(length) || length < 0 || length > FRAME_MAX) throw malformed();
      const out = new Array(length);
      for (const [at, item] of pairs(v[1])) {
        if (!Number.isSafeInteger(at) || at < 0 || at >= length) throw malformed();
        out[at] = inner(item);
      }
      return out;
    }
    case 'd': return new Date(Number(v));
    case 'r': return new RegExp(String(list(v)[0]), String(v[1]));
    case 'e': {
      const Kind = Object.prototype.hasOwnProperty.call(ERRORS, list(v)[0]) ? ERRORS[v[0]] : Error;
      return new Kind(String(v[1]));
    }
    case 't': {
      const name = String(list(v)[0]);
      if (!TYPED.includes(name)) throw malformed();
      return globalThis[name].from(list(v[1]).map(inner));
    }
    case 'o': {
      const out = {};
      for (const [k, item] of pairs(v)) {
        Object.defineProperty(out, String(k), {value: inner(item), enumerable: true, writable: true, configurable: true});
      }
      return out;
    }
  }
  throw malformed();
}

// Frames on a pipe: a 4-byte big-endian length, then UTF-8 JSON.  Reads and
// writes are synchronous: the tests call the program as a plain function.
const FRAME_MAX = 64 << 20;

function pause(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function readExactly(fs, fd, size) {
  const buffer = Buffer.alloc(size);
  let got = 0;
  while (got < size) {
    let n;
    try {
      n = fs.readSync(fd, buffer, got, size - got, null);
    } catch (error) {
      if (error.code === 'EAGAIN') { pause(1); continue; }
      if (error.code === 'EOF' || error.code === 'EPIPE' || error.code === 'ECONNRESET') return null;
      throw error;
    }
    if (n === 0) return null;
    got += n;
  }
  return buffer;
}

function receiveText(fs, fd) {
  const head = readExactly(fs, fd, 4);
  if (head === null) return null;
  const size = head.readUInt32BE(0);
  if (size > FRAME_MAX) throw new RangeError('a frame of ' + size + ' bytes is over the limit');
  const body = readExactly(fs, fd, size);
  return body === null ? null : body.toString('utf8');
}

function sendText(fs, fd, text) {
  const body = Buffer.from(text, 'utf8');
  const frame = Buffer.alloc(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  let sent = 0;
  while (sent < frame.length) {
    try {
      sent += fs.writeSync(fd, frame, sent, frame.length - sent);
    } catch (error) {
      if (error.code === 'EAGAIN') { pause(1); continue; }
      if (error.code === 'EPIPE') return false;
      throw error;
    }
  }
  return true;
}
