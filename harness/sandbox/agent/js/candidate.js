// A JavaScript candidate's process (the sandbox uid): loads the program as
// `node main.js` would (a CommonJS module), then answers the judge's
// requests on fd 3 with replies on fd 4 until the judge closes fd 3.
// Nothing here is trusted: the judge decodes what comes back as plain data.
// The codec's source comes first (CODEC); the whole runs in a function, so
// that none of its names meets the program's.
(function () {
  'use strict';
  const fs = require('fs');
  const vm = require('vm');
  const REQUESTS = 3;
  const REPLIES = 4;
  const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

  const reply = (message) => sendText(fs, REPLIES, JSON.stringify(message));
  const raised = (error) => {
    if (error instanceof Error || (error && typeof error === 'object')) {
      return {name: String(error.name), message: String(error.message)};
    }
    return {name: 'Error', message: 'threw ' + String(error)};
  };

  // `node -e` (how this file runs) makes each builtin module a global, as
  // the REPL does; `node main.js` does not, and neither does the program here.
  for (const name of require('module').builtinModules) {
    if (name === 'process' || name === 'console') continue;  // real globals too
    const slot = Object.getOwnPropertyDescriptor(globalThis, name);
    if (slot && slot.configurable) delete globalThis[name];
  }

  let loaded = null;
  let lookup = null;
  const hook = '__harness_expose_' + Math.random().toString(36).slice(2);
  let program;
  try {
    program = vm.compileFunction(
      fs.readFileSync('main.js', 'utf8') + '\n;' + hook + '((name) => eval(name));\n',
      ['exports', 'require', 'module', '__filename', '__dirname', hook],
      {filename: process.cwd() + '/main.js'});
  } catch (error) {
    loaded = {syntax: String(error && error.message)};
  }
  if (loaded === null) {
    const mod = {exports: {}, id: '.', filename: process.cwd() + '/main.js', loaded: false};
    try {
      program.call(mod.exports, mod.exports, require, mod, mod.filename, process.cwd(), (f) => { lookup = f; });
      loaded = {};
    } catch (error) {
      loaded = {raise: raised(error)};
    }
  }

  const functions = new Map();
  function describe(names) {
    const found = {};
    for (const name of names) {
      if (typeof name !== 'string' || !IDENTIFIER.test(name) || lookup === null) continue;
      let value;
      try {
        value = lookup(name);
      } catch (error) {
        continue;  // not a name the program declares
      }
      if (typeof value === 'function') {
        functions.set(name, value);
        found[name] = {f: 1};
      } else {
        try {
          found[name] = {v: enc(value)};
        } catch (error) {
          found[name] = {raise: raised(error)};
        }
      }
    }
    return found;
  }

  function call(request) {
    const target = functions.get(request.name);
    try {
      const args = dec(request.args);
      const result = request.construct ? Reflect.construct(target, args) : target(...args);
      return {ok: enc(result)};
    } catch (error) {
      return {raise: raised(error)};
    }
  }

  for (;;) {
    const text = receiveText(fs, REQUESTS);
    if (text === null) break;
    const request = JSON.parse(text);
    let sent;
    if (request.op === 'names') {
      sent = reply(loaded.syntax || loaded.raise ? loaded : {names: describe(request.names)});
    } else {
      sent = reply(call(request));
    }
    if (!sent) break;
  }
  process.exit(0);
})();
