// A JavaScript stdin/stdout program (the path in process.argv[1]): compiled
// first as node compiles a CommonJS module, so that a syntax error is told
// apart (exit status SYNTAX_EXIT, the message on stderr) from a program that
// fails; then run as the main module, as `node main.js` runs it.
(function () {
  'use strict';
  const fs = require('fs');
  const Module = require('module');
  const vm = require('vm');
  const path = process.argv[1];
  for (const name of Module.builtinModules) {  // not globals in `node main.js`
    if (name === 'process' || name === 'console') continue;
    const slot = Object.getOwnPropertyDescriptor(globalThis, name);
    if (slot && slot.configurable) delete globalThis[name];
  }
  try {
    new vm.Script(Module.wrap(fs.readFileSync(path, 'utf8')), {filename: path});
  } catch (error) {
    if (error instanceof SyntaxError) {
      fs.writeSync(2, 'SyntaxError: ' + error.message + '\n');
      process.exit(SYNTAX_EXIT);
    }
  }
  Module.runMain();
})();
