"""JavaScript programs for small problems, in the layouts JavaScript suites
use, each with the verdict it must get: the hostile ones must never pass
(issue 10's list: ``process.exit(0)`` before or inside the tests, an
overridden ``console.assert`` or ``assert``, printed success; and what the
split design invites: forged frames on the reply pipe, a try at the judge's
FIFOs or processes), the legitimate ones get what they earn."""

from __future__ import annotations

# HumanEvalPack's layout: the prompt ends in the entry point's opening line,
# the tests are console.assert calls in a function the test file calls.
PACK_PROMPT = "/* Add two numbers.\n  >>> add(1, 2)\n  3\n  */\nconst add = (a, b) => {\n"
PACK_TEST = ("const testAdd = () => {\n  console.assert(add(1, 2) === 3)\n  console.assert(add(-4, 4) === 0)\n"
             "  console.assert(add(2, 2) !== 5)\n}\n\ntestAdd()\n")
RIGHT = "const add = (a, b) => {\n  return a + b\n}\n"
WRONG = "const add = (a, b) => {\n  return 0\n}\n"

NOT_PASSED = ("failed", "error", "syntax_error", "timeout")
FRAME = ("const frame = (o) => { const b = Buffer.from(JSON.stringify(o)); const h = Buffer.alloc(4); "
         "h.writeUInt32BE(b.length); return Buffer.concat([h, b]) }\n")
# name -> whole program; none may pass
HOSTILE = {
    "exit_zero_at_load": "process.exit(0)\n" + WRONG,
    "exit_zero_in_function": "const add = (a, b) => {\n  process.exit(0)\n}\n",
    "really_exit_in_function": "const add = (a, b) => {\n  process.reallyExit(0)\n}\n",
    "exit_after_the_first_call": ("let calls = 0\nconst add = (a, b) => {\n  if (++calls === 2) process.exit(0)\n"
                                  "  return a + b\n}\n"),
    "overrides_console_assert": "console.assert = () => {}\n" + WRONG,
    "replaces_console": "globalThis.console = {assert() {}, log() {}}\n" + WRONG,
    "defines_the_test_function": WRONG + "function testAdd() {}\nconst console = {assert() {}}\n",
    "prints_success": 'console.log("All tests passed")\nconsole.error("ok")\n' + WRONG,
    "forges_replies_on_its_pipe": (FRAME + "const fs = require('fs')\n"
                                   "fs.writeSync(4, frame({names: {add: {v: 3}}}))\n"
                                   "for (let i = 0; i < 10; i++) fs.writeSync(4, frame({ok: true}))\n" + WRONG),
    "writes_a_verdict_everywhere": (FRAME + "const fs = require('fs')\n"
                                    "for (let fd = 3; fd < 64; fd++) {\n"
                                    "  try { fs.writeSync(fd, frame({op: 'verdict', id: 1, outcome: 'passed'})) }"
                                    " catch (e) {}\n}\n" + WRONG),
    "opens_the_judges_fifos": (FRAME + "const fs = require('fs')\nfor (let i = 1; i < 200; i++) {\n"
                               "  for (const name of ['req', 'rep']) {\n"
                               "    try { const fd = fs.openSync('/judge/js/r' + i + '/' + name, 'r+');\n"
                               "      fs.writeSync(fd, frame({op: 'verdict', outcome: 'passed'})) } catch (e) {}\n"
                               "  }\n}\n" + WRONG),
    "signals_every_process": ("for (let pid = 2; pid < 4096; pid++) {\n  if (pid !== process.pid) {\n"
                              "    try { process.kill(pid, 'SIGKILL') } catch (e) {}\n  }\n}\n" + WRONG),
    "answers_with_a_lookalike": ("const add = (a, b) => ({valueOf: () => a + b, toString: () => String(a + b),\n"
                                 "  [Symbol.toPrimitive]: () => a + b})\n"),
    "pollutes_its_prototypes": ("Object.prototype.toJSON = function () { return 3 }\n"
                                "Array.prototype.toJSON = function () { return 3 }\n" + WRONG),
    "comments_out_the_tests": WRONG + "\n/*\n",
    "patches_node_assert": "require('assert').ok = () => {}\nrequire('assert').deepEqual = () => {}\n" + WRONG,
}

# name -> (whole program, outcome)
LEGIT = {
    "right": (RIGHT, "passed"),
    "wrong": (WRONG, "failed"),
    "function_declaration": ("function add(a, b) {\n  return a + b\n}\n", "passed"),
    "module_style": ("const path = require('path')\nconst add = (a, b) => Number(path.basename(String(a + b)))\n"
                     "module.exports = {add}\n", "passed"),
    "keeps_state_between_calls": ("const seen = []\nconst add = (a, b) => {\n  seen.push(a)\n"
                                  "  return seen.length > 0 ? a + b : 0\n}\n", "passed"),
    "class_helper": ("class Adder {\n  constructor(a) { this.a = a }\n  plus(b) { return this.a + b }\n}\n"
                     "const add = (a, b) => new Adder(a).plus(b)\n", "passed"),
    "does_not_parse": ("const add = (a, b) => {\n  return a +\n}\n", "syntax_error"),
    "throws": ("const add = (a, b) => {\n  throw new RangeError('out of range')\n}\n", "error"),
    "throws_at_load": ("null.x\n" + RIGHT, "error"),
    "defines_another_name": ("const plus = (a, b) => a + b\n", "error"),
    "endless": ("const add = (a, b) => {\n  for (;;) {}\n}\n", "timeout"),
}
# Run alone, with more CPU time: near its memory limit the kernel reclaims
# node's own code pages, and a loaded machine may spend a second doing so.
MEMORY_HOG = "const keep = []\nconst add = (a, b) => {\n  for (;;) keep.push(Buffer.alloc(1 << 24, 1))\n}\n"

# Values that cross between program and tests: the judge gets them back as
# the same plain data (and a key named __proto__ stays a key).
ECHO_PROMPT = "const echo = (x) => {\n"
ECHO_TEST = """const testEcho = () => {
  const util = require('util')
  const values = [1, -0, NaN, Infinity, undefined, null, 'ü', 12345678901234567890n, [1, [2, 'x']],
    {a: 1, b: [2, {c: null}]}, new Map([[1, 'a'], ['k', [2]]]), new Set([3, 'y']), new Date(5), /x+/g,
    new Uint8Array([1, 2]), [, 1]]
  for (const value of values) {
    const got = echo(value)
    console.assert(Object.is(got, value) || util.isDeepStrictEqual(got, value), String(value))
  }
  const odd = echo(JSON.parse('{"__proto__": {"polluted": 1}}'))
  console.assert(({}).polluted === undefined && Object.keys(odd).join() === '__proto__')
  let threw = false
  try { echo(() => 1) } catch (error) { threw = error instanceof TypeError }
  console.assert(threw)
  const nested = [{a: [new Map([[{k: 1}, new Set([2n])]])]}]
  console.assert(util.isDeepStrictEqual(echo(nested), nested))
}

testEcho()
"""
# name -> (whole program, outcome)
ECHO = {
    "right": ("const echo = (x) => x\n", "passed"),
    "returns_a_copy": ("const echo = (x) => structuredClone(x)\n", "passed"),
    "returns_a_getter": ("const echo = (x) => ({get a() { return 2 }})\n", "failed"),
    "returns_a_proxy": ("const echo = (x) => new Proxy({}, {get: () => 2, ownKeys: () => ['a'], "
                        "getOwnPropertyDescriptor: () => ({value: 2, enumerable: true, configurable: true})})\n",
                        "failed"),
    "returns_a_function": ("const echo = (x) => () => x\n", "error"),
    "returns_a_cycle": ("const echo = (x) => { const o = {}; o.o = o; return o }\n", "error"),
}

# MultiPL-E's layout: the prompt opens the function, the completion closes
# it, and the tests assert with node's assert module.
MULTIPLE_PROMPT = "//Add two numbers x and y\nfunction add(x, y){\n"
MULTIPLE_TESTS = ("const assert = require('node:assert');\n\n\nfunction test() {\n  let candidate = add;\n"
                  "  assert.deepEqual(candidate(0, 1),1);\n  assert.deepEqual(candidate(5, 7),12);\n"
                  "  assert.deepEqual([candidate(1, 1)],[2]);\n}\n\ntest();\n")
# name -> (completion, outcome)
MULTIPLE = {
    "right": ("  return x + y;\n}\n", "passed"),
    "wrong": ("  return x * y;\n}\n", "failed"),
    "patches_assert": ("  require('node:assert').deepEqual = () => {};\n  return 0;\n}\n", "failed"),
    "throws": ("  throw new Error('no');\n}\n", "error"),
}

SUM_CASES = [{"input": "1 2\n", "output": "3\n"}, {"input": "-5 5\n", "output": "0\n"},
             {"input": "1000000000 1000000000\n", "output": "2000000000\n"}]
# name -> (program, outcome, per-case outcomes)
SUM_PROGRAMS = {
    "right": ("const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(BigInt)\n"
              "console.log(String(a + b))\n", "passed", ["passed"] * 3),
    "wrong_on_large": ("const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number)\n"
                       "console.log((a + b) % 1e9)\n", "failed", ["passed", "passed", "failed"]),
    "does_not_parse": ("console.log(\n", "syntax_error", ["syntax_error", "skipped", "skipped"]),
    "main_module_idiom": ("const main = () => {\n  const [a, b] = require('fs').readFileSync(0, 'utf8').split(' ')\n"
                          "  console.log(BigInt(a) + BigInt(b.trim()) + '')\n}\nif (require.main === module) main()\n",
                          "passed", ["passed"] * 3),
}

# MultiPL-E's TypeScript layout: the program type-checked with the tests
# appended (a type error fails, as under MultiPL-E's `tsc`), then run as
# JavaScript against the tests, which the judge transpiles itself.
TS_PROMPT = "//Add two numbers x and y\nfunction add(x: number, y: number): number {\n"
TS_TESTS = ("declare var require: any;\nconst assert = require('node:assert');\n\n\nfunction test() {\n"
            "  let candidate = add;\n  assert.deepEqual(candidate(0, 1),1);\n  assert.deepEqual(candidate(5, 7),12);\n"
            "}\n\ntest();\n")
# name -> (completion, outcome)
TS_MULTIPLE = {
    "right": ("  return x + y;\n}\n", "passed"),
    "wrong": ("  return x * y;\n}\n", "failed"),
    "type_error": ("  return String(x + y);\n}\n", "syntax_error"),
    "any_is_fine": ("  const sum: any = x + y;\n  return sum;\n}\n", "passed"),
    "exits": ("  (globalThis as any).process.exit(0);\n  return 0;\n}\n", "error"),
    "patches_assert": ("  require('node:assert').deepEqual = () => {};\n  return 0;\n}\n", "failed"),
    "interfaces_and_generics": ("  return pick<number>([x + y]);\n}\ninterface Box<T> { v: T }\n"
                                "function pick<T>(xs: T[]): T { const b: Box<T> = {v: xs[0]}; return b.v; }\n",
                                "passed"),
}
TS_SUM_PROGRAMS = {
    "right": ("declare var require: any;\n"
              "const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(BigInt);\n"
              "console.log(String(a + b));\n", "passed", ["passed"] * 3),
    "type_error": ("const n: number = 'x';\nconsole.log(n);\n", "syntax_error", ["syntax_error", "skipped", "skipped"]),
}
