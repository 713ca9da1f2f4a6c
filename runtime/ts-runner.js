'use strict';
// kcr ts-runner: type-check and compile a TypeScript file with the TypeScript
// compiler API, emit CommonJS into /tmp, then run it as `node code.js args...`
// would (as the main module: `require.main === module` holds).
//
// Usage: node /opt/kcr/ts-runner.js /mnt/data/code.ts [args...]
//        node /opt/kcr/ts-runner.js /dev/stdin    (a pre-started runner)
// As a runner (the sidecar starts one while the pod waits in the pool) it
// checks a small program first, so the compiler's code is warm, then reads
// "<n>\n" + the file's path and arguments (NUL-separated) from fd 0, byte
// by byte, so that the rest of stdin is the program's, as for the Python
// runner (src/sidecar/sidecar-runner.c).
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

const RUNNER = '/dev/stdin';

// Reads exactly n bytes from fd 0; exits quietly at EOF (nobody came).
function readExactly(n) {
    const buf = Buffer.alloc(n);
    for (let off = 0; off < n;) {
        const got = fs.readSync(0, buf, off, n - off, null);
        if (got === 0)
            process.exit(0);
        off += got;
    }
    return buf;
}

// The runner's request: [path, args...].
function readRequest() {
    let head = '';
    for (;;) {
        const c = readExactly(1)[0];
        if (c === 10)
            break;
        head += String.fromCharCode(c);
    }
    const n = Number.parseInt(head, 10);
    if (!(n > 0))
        process.exit(64);
    return readExactly(n).toString('utf8').split('\0');
}

// Type-checks and emits a small program in memory (nothing touches the
// disk), so that the user's check runs on warm code.
function warmUp(ts, nodeModules, cache) {
    const name = '/opt/kcr/kcr-warm-up.ts';
    const text = 'import * as fs from "fs";\nconst n: number = [1, 2].map((x) => x * 2)' +
        '.reduce((a, b) => a + b, 0);\nconsole.log(fs.existsSync("/"), `${n}`);\n';
    const options = compilerOptions(ts, nodeModules, '/opt/kcr', '/opt/kcr/kcr-warm-up-out');
    const host = ts.createCompilerHost(options);
    const parse = host.getSourceFile, exists = host.fileExists;
    host.getSourceFile = (f, ...rest) => (f === name
        ? ts.createSourceFile(f, text, ts.ScriptTarget.ES2022)
        : (cache && cache.get(f)) || parse.call(host, f, ...rest));
    host.fileExists = (f) => f === name || exists.call(host, f);
    host.writeFile = () => {};
    const program = ts.createProgram([name], options, host);
    ts.getPreEmitDiagnostics(program);
    program.emit(undefined, () => {});
}

// [file, args] from the command line, or for a runner (file "/dev/stdin"),
// after the warm-up, from its request. Either way the program then runs from
// the same call site: its stack traces are the same.
function request(ts, nodeModules, cache, argv) {
    if (argv[0] !== RUNNER)
        return [argv[0], argv.slice(1)];
    warmUp(ts, nodeModules, cache);
    const [file, ...args] = readRequest();
    return [file, args];
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
    const [real, realArgs] = request(ts, nodeModules, null, [file].concat(args));
    const realFile = path.resolve(real);
    run(compile(ts, nodeModules, realFile, null), realFile, realArgs);
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
        if (!process.argv[1])
            usage();
        const [file, args] = request(ts, nodeModules, cache, process.argv.slice(1));
        const srcFile = path.resolve(file);
        run(compile(ts, nodeModules, srcFile, cache), srcFile, args);
    });
}

if (v8.startupSnapshot && v8.startupSnapshot.isBuildingSnapshot())
    buildSnapshot();
else if (require.main === module)
    main();
