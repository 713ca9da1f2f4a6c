'use strict';
// kcr ts-runner: type-check and compile a TypeScript file with the TypeScript
// compiler API (in this process: no second node start), emit CommonJS into
// /tmp, then run it as `node code.js args...` would.
//
// Usage: node /opt/kcr/ts-runner.js /mnt/data/code.ts [args...]
// Type errors are printed on stderr as tsc prints them ("code.ts(3,7): error
// TS2322: ...") and the runner exits with status 2, like tsc; nothing runs.

const path = require('path');
const fs = require('fs');

const nodeModules = path.join(__dirname, 'node_modules');
const ts = require(path.join(nodeModules, 'typescript'));

const file = process.argv[2];
if (!file) {
    process.stderr.write('usage: ts-runner.js FILE.ts [args...]\n');
    process.exit(64);
}
const srcFile = path.resolve(file);
const rootDir = path.dirname(srcFile);
const outDir = path.join(process.env.TMPDIR || '/tmp', 'kcr-ts');

const options = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    lib: ['lib.es2022.d.ts'],
    strict: false,
    esModuleInterop: true,
    allowSyntheticDefaultImports: true,
    resolveJsonModule: true,
    skipLibCheck: true,
    noEmitOnError: true,
    sourceMap: false,
    rootDir,
    outDir,
    // The libraries live read-only under /opt/kcr/node_modules, not next to
    // the code: resolve bare imports and @types there.
    baseUrl: '/',
    paths: { '*': [nodeModules + '/*', nodeModules + '/@types/*'] },
    typeRoots: [path.join(nodeModules, '@types')],
    types: ['node'],
};

const host = ts.createCompilerHost(options);
const program = ts.createProgram([srcFile], options, host);
const emit = program.emit();
const diags = ts.sortAndDeduplicateDiagnostics(
    ts.getPreEmitDiagnostics(program).concat(emit.diagnostics));
const errors = diags.filter((d) => d.category === ts.DiagnosticCategory.Error);
if (diags.length) {
    const fmtHost = {
        getCanonicalFileName: (f) => f,
        getCurrentDirectory: () => rootDir,
        getNewLine: () => '\n',
    };
    process.stderr.write(ts.formatDiagnostics(diags, fmtHost));
}
if (errors.length || emit.emitSkipped)
    process.exit(2);

const outFile = path.join(outDir, path.basename(srcFile).replace(/\.(c|m)?tsx?$/, '') + '.js');
if (!fs.existsSync(outFile)) {
    process.stderr.write(`ts-runner: compiler produced no ${outFile}\n`);
    process.exit(70);
}
// The program sees the same argv as under `node code.js a b`.
process.argv = [process.argv[0], srcFile].concat(process.argv.slice(3));
require(outFile);
