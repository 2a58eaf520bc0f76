// `js-md5` (HumanEvalPack's JavaScript/162 requires it, as the npm package),
// on node:crypto: the API the package documents (md5(text) is the hex digest;
// hex, array, digest, arrayBuffer, buffer, base64, create, update), so a
// program written for it runs here without npm.
'use strict';
const crypto = require('crypto');

function bytes(message) {
  if (typeof message === 'string') return Buffer.from(message, 'utf8');
  if (message instanceof ArrayBuffer) return Buffer.from(new Uint8Array(message));
  if (ArrayBuffer.isView(message)) return Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  if (Array.isArray(message)) return Buffer.from(message);
  throw new Error('input is invalid type');
}

function hasher() {
  const hash = crypto.createHash('md5');
  let done = null;
  const digest = () => (done = done || hash.digest());
  const self = {
    update(message) { hash.update(bytes(message)); return self; },
    hex: () => digest().toString('hex'),
    toString: () => digest().toString('hex'),
    array: () => Array.from(digest()),
    digest: () => Array.from(digest()),
    arrayBuffer: () => new Uint8Array(digest()).buffer,
    buffer: () => new Uint8Array(digest()).buffer,
    base64: () => digest().toString('base64'),
  };
  return self;
}

const md5 = (message) => hasher().update(message).hex();
for (const name of ['hex', 'array', 'digest', 'arrayBuffer', 'buffer', 'base64']) {
  md5[name] = (message) => hasher().update(message)[name]();
}
md5.create = hasher;
md5.update = (message) => hasher().update(message);
module.exports = md5;
