'use strict';
// kcr ts-runner: type-check and compile a TypeScript file with the TypeScript
// compiler API, emit CommonJS into /tmp, then run it as `node code.js args...`
// would (as the main module: `require.main === module` holds).
//
// Usage: node /opt/kcr/ts-runner.js /mnt/data/code.ts [args...]
// Type errors are printed on stderr as tsc prints them ("code.ts(3,7): error
// TS2322: ...") and the runner exits with status 2, like tsc; nothing runs.
//
// Speed: parsing TypeScript's lib files and @types/node costs 1.5-2 s per run,
// and every pod starts cold. scripts/build-runtime.sh therefore also builds a
// V8 startup snapshot of this file (ts-runner.blob: the compiler loaded, the
// declaration files parsed and bound). In a pod (/opt/kcr) with a blob made by
// this very node, the runner re-executes node from that snapshot, which only
// checks the user's file; otherwise it compiles in this process.

const fs = require('fs');
const path = require('path');
const v8 = require('v8');

// Where the runtime directory is mounted in pods. Paths inside the snapshot
// refer to it, whatever directory the snapshot was built from.
const POD_ROOT = '/opt/kcr';

function compilerOptions(ts, nodeModules, rootDir, outDir) {
    return {
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
        // The libraries live read-only under /opt/kcr/node_modules, not next
        // to the code: resolve bare imports and @types there.
        baseUrl: '/',
        paths: { '*': [nodeModules + '/*', nodeModules + '/@types/*'] },
        typeRoots: [path.join(nodeModules, '@types')],
        types: ['node'],
    };
}

// Compiles srcFile; returns the emitted .js path, or exits 2 on errors.
// cache: parsed declaration files to reuse (fileName -> SourceFile), or null.
function compile(ts, nodeModules, srcFile, cache) {
    const rootDir = path.dirname(srcFile);
    const outDir = path.join(process.env.TMPDIR || '/tmp', 'kcr-ts');
    const options = compilerOptions(ts, nodeModules, rootDir, outDir);
    const host = ts.createCompilerHost(options);
    if (cache) {
        const parse = host.getSourceFile;
        host.getSourceFile = (f, ...rest) => cache.get(f) || parse.call(host, f, ...rest);
    }
    const program = ts.createProgram([srcFile], options, host);
    const emit = program.emit();
    const diags = ts.sortAndDeduplicateDiagnostics(
        ts.getPreEmitDiagnostics(program).concat(emit.diagnostics));
    if (diags.length) {
        process.stderr.write(ts.formatDiagnostics(diags, {
            getCanonicalFileName: (f) => f,
            getCurrentDirectory: () => rootDir,
            getNewLine: () => '\n',
        }));
    }
    if (diags.some((d) => d.category === ts.DiagnosticCategory.Error) || emit.emitSkipped)
        process.exit(2);
    const outFile = path.join(outDir, path.basename(srcFile).replace(/\.(c|m)?tsx?$/, '') + '.js');
    if (!fs.existsSync(outFile)) {
        process.stderr.write(`ts-runner: compiler produced no ${outFile}\n`);
        process.exit(70);
    }
    return outFile;
}

// Runs the emitted file as the main module with the argv `node code.ts a b`.
function run(outFile, srcFile, args) {
    const Module = require('module');
    process.argv = [process.argv[0], srcFile].concat(args);
    Module._load(outFile, null, true);
}

function usage() {
    process.stderr.write('usage: ts-runner.js FILE.ts [args...]\n');
    process.exit(64);
}

// The snapshot is usable: we are in a pod and the blob was made by this node.
function snapshotBlob() {
    if (__dirname !== POD_ROOT || process.env.KCR_TS_NO_SNAPSHOT)
        return null;
    const blob = path.join(__dirname, 'ts-runner.blob');
    try {
        const made = fs.readFileSync(blob + '.node-version', 'utf8').trim();
        return made === process.version && fs.statSync(blob).size > 0 ? blob : null;
    } catch {
        return null;
    }
}

function main() {
    const file = process.argv[2];
    if (!file)
        usage();
    const srcFile = path.resolve(file);
    const args = process.argv.slice(3);
    const blob = snapshotBlob();
    if (blob) {
        const { spawnSync } = require('child_process');
        const r = spawnSync(process.execPath, ['--snapshot-blob', blob, srcFile].concat(args),
            { stdio: 'inherit' });
        if (!r.error) {
            if (r.signal) {
                process.kill(process.pid, r.signal);
                process.exit(128 + (require('os').constants.signals[r.signal] || 0));
            }
            process.exit(r.status === null ? 1 : r.status);
        }
        // Could not start node at all: compile here instead.
    }
    const nodeModules = path.join(__dirname, 'node_modules');
    const ts = require(path.join(nodeModules, 'typescript'));
    run(compile(ts, nodeModules, srcFile, null), srcFile, args);
}

// --- snapshot build: node --snapshot-blob X --build-snapshot ts-runner.js ----
// Only built-in modules can be required here, so typescript.js is evaluated
// by hand. File names the compiler sees are under /opt/kcr; reads go to the
// directory being built (this file's), so the cache matches pods' paths.
function buildSnapshot() {
    const realRoot = __dirname;
    const toReal = (p) => (typeof p === 'string' && (p === POD_ROOT || p.startsWith(POD_ROOT + '/'))
        ? realRoot + p.slice(POD_ROOT.length) : p);
    const toPod = (p) => (typeof p === 'string' && (p === realRoot || p.startsWith(realRoot + '/'))
        ? POD_ROOT + p.slice(realRoot.length) : p);

    const tsDir = path.join(POD_ROOT, 'node_modules', 'typescript', 'lib');
    const src = fs.readFileSync(toReal(path.join(tsDir, 'typescript.js')), 'utf8');
    const mod = { exports: {} };
    // eslint-disable-next-line no-new-func
    new Function('module', 'exports', 'require', '__filename', '__dirname', src)(
        mod, mod.exports, require, path.join(tsDir, 'typescript.js'), tsDir);
    const ts = mod.exports;

    // Translate paths while warming up; restore before the snapshot is taken.
    const sys = ts.sys;
    const saved = {};
    for (const name of ['readFile', 'fileExists', 'directoryExists', 'getDirectories',
        'readDirectory', 'getFileSize', 'getModifiedTime']) {
        if (typeof sys[name] !== 'function')
            continue;
        saved[name] = sys[name];
        sys[name] = (p, ...rest) => saved[name].call(sys, toReal(p), ...rest);
    }
    if (sys.realpath) {
        saved.realpath = sys.realpath;
        sys.realpath = (p) => toPod(saved.realpath.call(sys, toReal(p)));
    }

    const nodeModules = path.join(POD_ROOT, 'node_modules');
    const warmDir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'kcr-ts-warm-'));
    const warm = path.join(warmDir, 'warm.ts');
    // The declarations every program needs (lib, @types/node) plus those of
    // the preinstalled libraries that are cheap enough to keep in the heap.
    fs.writeFileSync(warm, [
        'import * as fs from "fs";',
        'import { format } from "date-fns";',
        'import _ from "lodash";',
        'import Papa from "papaparse";',
        'console.log(fs.existsSync("."), format, Papa, _);',
        '',
    ].join('\n'));
    const cache = new Map();
    const options = compilerOptions(ts, nodeModules, warmDir, path.join(warmDir, 'out'));
    const host = ts.createCompilerHost(options);
    const parse = host.getSourceFile;
    host.getSourceFile = (f, ...rest) => {
        let sf = cache.get(f);
        if (!sf) {
            sf = parse.call(host, f, ...rest);
            if (sf && f.endsWith('.d.ts'))
                cache.set(f, sf);
        }
        return sf;
    };
    const program = ts.createProgram([warm], options, host);
    const errors = ts.getPreEmitDiagnostics(program);
    if (errors.length) {
        process.stderr.write(ts.formatDiagnostics(errors, {
            getCanonicalFileName: (f) => f, getCurrentDirectory: () => '/', getNewLine: () => '\n',
        }));
        throw new Error('ts-runner: the warm-up program does not type-check');
    }
    fs.rmSync(warmDir, { recursive: true, force: true });
    Object.assign(sys, saved);

    v8.startupSnapshot.setDeserializeMainFunction(() => {
        const file = process.argv[1];
        if (!file)
            usage();
        const srcFile = path.resolve(file);
        run(compile(ts, nodeModules, srcFile, cache), srcFile, process.argv.slice(2));
    });
}

if (v8.startupSnapshot && v8.startupSnapshot.isBuildingSnapshot())
    buildSnapshot();
else if (require.main === module)
    main();
