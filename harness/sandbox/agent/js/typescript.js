// TypeScript's compile step (a fresh process of the sandbox uid, the compile
// limits): type-checks the program with the tests appended, one file, as
// MultiPL-E's evaluator runs `tsc --target esnext` on it (a type error fails
// the candidate there and here), then prints the program alone, as
// JavaScript, on stdout.  Nothing of the program runs here.  The judge
// transpiles the tests itself.
(function () {
  'use strict';
  const fs = require('fs');
  const ts = require('typescript');
  const program = fs.readFileSync('main.ts', 'utf8');
  const tests = fs.existsSync('tests.ts') ? fs.readFileSync('tests.ts', 'utf8') : '';
  const options = {target: ts.ScriptTarget.ESNext, module: ts.ModuleKind.CommonJS, noEmit: true, types: [],
    skipLibCheck: true};
  const whole = program + '\n' + tests;
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile;
  host.getSourceFile = (name, version, onError) =>
    (name === 'main.ts' ? ts.createSourceFile(name, whole, version) : read(name, version, onError));
  const errors = ts.getPreEmitDiagnostics(ts.createProgram(['main.ts'], options, host))
    .filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length) {
    const first = errors[0];
    let where = '';
    if (first.file) {
      const at = first.file.getLineAndCharacterOfPosition(first.start || 0);
      where = first.file.fileName + '(' + (at.line + 1) + ',' + (at.character + 1) + '): ';
    }
    fs.writeSync(2, where + 'error TS' + first.code + ': ' + ts.flattenDiagnosticMessageText(first.messageText, ' ') +
      (errors.length > 1 ? ' (and ' + (errors.length - 1) + ' more)' : '') + '\n');
    process.exit(1);
  }
  const emitted = ts.transpileModule(program, {compilerOptions: {target: ts.ScriptTarget.ESNext,
    module: ts.ModuleKind.CommonJS}});
  fs.writeSync(1, emitted.outputText);
})();
