// The JavaScript judge (the judge uid): one long-lived node process per
// container.  For each run the supervisor names two FIFOs on fd 3; the judge
// opens them (requests to the candidate, its replies), runs the problem's
// tests with every name they use that the program declares bound to a remote
// stand-in, and writes the verdict on fd 4.  The tests run in a vm context
// of their own per problem (a fresh realm), with `console.assert` recording
// failures.  CODEC (the codec's source, also as the string CODEC_SOURCE)
// comes first.
(function () {
  'use strict';
  const fs = require('fs');
  const vm = require('vm');
  const CONTROL_IN = 3;
  const CONTROL_OUT = 4;
  const RESERVED = new Set(('break case catch class const continue debugger default delete do else enum export ' +
    'extends false finally for function if import in instanceof new null return super switch this throw true ' +
    'try typeof var void while with yield let static implements interface package private protected public ' +
    'await eval arguments undefined NaN Infinity console require module exports').split(' '));
  const NODE_GLOBALS = ['process', 'Buffer', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval',
    'setImmediate', 'clearImmediate', 'queueMicrotask', 'structuredClone', 'TextEncoder', 'TextDecoder', 'URL',
    'URLSearchParams', 'performance'];

  // Runs inside the problem's context, below the codec's source: the run
  // function the judge calls once per candidate.
  function makeRun(transport, require, testConsole) {
    const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
    return function run(test, defsText, entry, asked) {
      const GONE = {};
      const fromCandidate = new WeakSet();
      const failures = [];
      let calls = 0;
      let gone = false;
      const candidateError = (info) => {
        const name = info && typeof info.name === 'string' ? info.name : 'Error';
        const Kind = Object.prototype.hasOwnProperty.call(ERRORS, name) ? ERRORS[name] : Error;
        const error = new Kind(String(info && info.message));
        if (Kind === Error && name !== 'Error') error.name = name;
        fromCandidate.add(error);
        return error;
      };
      const answer = (text) => {
        if (text === null) {
          gone = true;
          throw GONE;
        }
        let parsed;
        try {
          parsed = JSON.parse(text);
          if (parsed && typeof parsed === 'object' && Object.prototype.hasOwnProperty.call(parsed, 'ok')) {
            return {value: dec(parsed.ok)};
          }
        } catch (error) {
          throw candidateError({name: 'TypeError', message: 'a malformed reply came from the program'});
        }
        return parsed;
      };
      const stand_in = (name) => function (...args) {
        calls += 1;
        const request = {op: 'call', name, args: enc(args), construct: new.target !== undefined};
        const got = answer(transport(JSON.stringify(request)));
        if (Object.prototype.hasOwnProperty.call(got, 'value')) return got.value;
        throw candidateError(got && got.raise);
      };
      const verdict = (outcome, detail) => JSON.stringify({outcome, detail: String(detail).slice(0, 600)});

      let defs;
      try {
        defs = answer(defsText);
      } catch (error) {
        return gone ? verdict('gone', '') : verdict('error', error.message);
      }
      if (defs && typeof defs.syntax === 'string') return verdict('syntax_error', defs.syntax);
      if (defs && defs.raise) {
        const info = defs.raise;
        return verdict('error', 'the program raised ' + String(info.name) + ': ' + String(info.message));
      }
      const names = defs && defs.names && typeof defs.names === 'object' ? defs.names : {};
      const own = (name) => Object.prototype.hasOwnProperty.call(names, name);
      if (entry && !own(entry)) return verdict('error', 'the program does not define ' + entry);
      const bound = [];
      const values = [];
      for (const name of asked) {
        if (!own(name) || !IDENTIFIER.test(name)) continue;
        const found = names[name];
        if (found && found.raise) {
          return verdict('error', 'the program\'s ' + name + ' cannot cross to the tests: ' + String(found.raise.message));
        }
        bound.push(name);
        try {
          values.push(found && found.f ? stand_in(name) : dec(found && found.v));
        } catch (error) {
          return verdict('error', 'the program\'s ' + name + ' cannot be read: ' + error.message);
        }
      }
      testConsole.reset(failures);
      let tests;
      try {
        tests = new Function('console', 'require', ...bound, 'return function () {\n' + test + '\n};');
      } catch (error) {
        return verdict('problem_error', 'the tests do not compile: ' + error.message);
      }
      try {
        tests(testConsole, require, ...values)();
      } catch (error) {
        if (error === GONE || gone) return verdict('gone', '');
        if (fromCandidate.has(error)) return verdict('error', 'the program raised ' + error.name + ': ' + error.message);
        const text = error instanceof Error ? error.name + ': ' + error.message : 'threw ' + String(error);
        if (error && error.code === 'ERR_ASSERTION') return verdict('failed', text.split('\n')[0]);
        if (error instanceof ReferenceError && calls === 0) return verdict('error', text);
        return verdict('failed', text);
      }
      if (gone) return verdict('gone', '');
      if (failures.length) {
        const more = failures.length > 1 ? ' (and ' + (failures.length - 1) + ' more)' : '';
        return verdict('failed', failures[0] + more);
      }
      return verdict('passed', '');
    };
  }

  // console for the tests: assert records (node's only prints), the rest is quiet.
  function makeConsole(testLines) {
    let failures = [];
    const quiet = () => undefined;
    const testConsole = {
      reset(list) { failures = list; },
      assert(condition, ...message) {
        if (condition) return;
        const at = /<anonymous>:(\d+):\d+/.exec(String(new Error().stack).split('\n').slice(2).join('\n'));
        const line = at ? Number(at[1]) - 3 : 0;
        const source = line > 0 ? (testLines()[line - 1] || '').trim() : '';
        const said = message.length ? ' (' + message.map(String).join(' ') + ')' : '';
        failures.push('console.assert failed' + (line > 0 ? ' at line ' + line + ' of the tests: ' + source : '') +
          said);
      },
    };
    for (const name of ['log', 'error', 'warn', 'info', 'debug', 'trace', 'dir', 'table', 'time', 'timeEnd',
      'group', 'groupEnd', 'count']) {
      testConsole[name] = quiet;
    }
    return testConsole;
  }

  const problems = {key: null, run: null, own: null, lines: [], typescript: null};
  let transport = null;
  let typescript = null;

  // TypeScript tests, as JavaScript: transpiled here, by the judge (their
  // types were checked with the program's in the compile step).
  function testSource(message) {
    if (!message.typescript) return message.test;
    if (problems.typescript && problems.typescript.key === message.key) return problems.typescript.test;
    typescript = typescript || require('typescript');
    const test = typescript.transpileModule(message.test, {compilerOptions: {
      target: typescript.ScriptTarget.ESNext, module: typescript.ModuleKind.CommonJS}}).outputText;
    problems.typescript = {key: message.key, test};
    return test;
  }

  function runnerFor(key, test) {
    if (problems.key !== key) {
      const sandbox = {};
      for (const name of NODE_GLOBALS) sandbox[name] = globalThis[name];
      const context = vm.createContext(sandbox);
      const source = '(function (transport, require, testConsole) {\n' + CODEC_SOURCE + '\nreturn (' +
        makeRun.toString() + ')(transport, require, testConsole);\n})';
      const factory = vm.runInContext(source, context, {filename: 'harness-judge.js'});
      problems.own = new Set(vm.runInContext('Object.getOwnPropertyNames(globalThis)', context));
      problems.run = factory((text) => transport(text), require, makeConsole(() => problems.lines));
      problems.key = key;
    }
    problems.lines = test.split('\n');
    return problems.run;
  }

  // The names the program is asked about: the tests' identifiers, not in
  // comments or string literals, nor after a dot (a property), nor the
  // context's own globals.  The candidate sees this list: no expected string
  // of the tests is in it.
  const LEXEME = /\/\/[^\n]*|\/\*[\s\S]*?\*\/|'(?:\\[\s\S]|[^'\\\n])*'|"(?:\\[\s\S]|[^"\\\n])*"|`(?:\\[\s\S]|[^`\\$]|\$(?!\{))*(?:`|\$\{)|\.\s*[A-Za-z_$][\w$]*|[A-Za-z_$][\w$]*/g;

  function asked(test, entry) {
    const names = new Set(entry ? [entry] : []);
    for (const [token] of test.matchAll(LEXEME)) {
      const first = token[0];
      if (first === '/' || first === '\'' || first === '"' || first === '`' || first === '.') continue;
      if (!RESERVED.has(token) && !problems.own.has(token)) names.add(token);
    }
    return Array.from(names);
  }

  function judge(message) {
    let requests;
    let replies;
    try {
      requests = fs.openSync(message.dir + '/req', fs.constants.O_WRONLY);
      replies = fs.openSync(message.dir + '/rep', fs.constants.O_RDONLY);
    } catch (error) {
      return JSON.stringify({outcome: 'judge_crash', detail: 'the judge cannot open its pipes: ' + error.message});
    }
    sendText(fs, CONTROL_OUT, JSON.stringify({op: 'opened', id: message.id}));
    transport = (text) => {
      if (!sendText(fs, requests, text)) return null;
      try {
        return receiveText(fs, replies);
      } catch (error) {
        if (error instanceof RangeError) {
          return JSON.stringify({raise: {name: 'RangeError', message: 'the program\'s reply is over 64 MiB'}});
        }
        throw error;
      }
    };
    try {
      const test = testSource(message);
      const run = runnerFor(message.key, test);
      const names = asked(test, message.entry);
      return run(test, transport(JSON.stringify({op: 'names', names})), message.entry || '', names);
    } finally {
      transport = null;
      fs.closeSync(requests);
      fs.closeSync(replies);
    }
  }

  for (;;) {
    const text = receiveText(fs, CONTROL_IN);
    if (text === null) process.exit(0);
    const message = JSON.parse(text);
    let result;
    try {
      result = JSON.parse(judge(message));
    } catch (error) {
      result = {outcome: 'judge_crash', detail: 'the judge failed: ' + String(error && error.stack).slice(0, 400)};
    }
    sendText(fs, CONTROL_OUT, JSON.stringify(Object.assign({op: 'verdict', id: message.id}, result)));
  }
})();
