// A user's project next to this checkout: the package packed as npm would
// publish it, and commands run with a user's environment.
import { execFile, type ExecFileException } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { packageRoot } from '../../lib/util/package-root.js';

export const root = packageRoot();

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(file: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Run> {
  return new Promise((done) => {
    execFile(file, args, { ...options, timeout: 180_000, maxBuffer: 64 * 1024 * 1024 }, (error: ExecFileException | null, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

/** Fails the test with the command's output unless it exited 0. */
export function ok(result: Run, what: string): Run {
  if (result.code !== 0) throw new Error(`${what} exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  return result;
}

export interface Packed {
  tarball: string;
  size: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}

/**
 * `npm pack` of this checkout into dir, as built: --ignore-scripts skips
 * prepack's rebuild of the prebuilds and dist/.
 */
export async function pack(dir: string): Promise<Packed> {
  const packed = ok(await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: root, env: process.env }), 'npm pack');
  const [report] = JSON.parse(packed.stdout) as (Omit<Packed, 'tarball'> & { filename: string })[];
  return { tarball: join(dir, report!.filename), size: report!.size, unpackedSize: report!.unpackedSize, files: report!.files };
}

/**
 * The environment of a user of this Node: none of the npm run variables of
 * this test run, none of this checkout's node_modules/.bin on PATH, and
 * nothing of xen-domconfig's own variables. With noCompilerDir, a folder
 * first on PATH where every compiler, make and python fail, as do CC and CXX.
 */
export function userEnv(noCompilerDir?: string): NodeJS.ProcessEnv {
  const path = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir && !resolve(dir).startsWith(root));
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_|^INIT_CWD$|^XEN_DOMCONFIG_|^LIBC$/.test(key)));
  if (!noCompilerDir) return { ...env, PATH: [dirname(process.execPath), ...path].join(delimiter) };
  mkdirSync(noCompilerDir, { recursive: true });
  for (const tool of ['cc', 'gcc', 'g++', 'c++', 'clang', 'clang++', 'make', 'python3', 'python']) {
    writeFileSync(join(noCompilerDir, tool), `#!/bin/sh\necho "${tool}: not on this machine" >&2\nexit 1\n`);
    chmodSync(join(noCompilerDir, tool), 0o755);
  }
  return { ...env, PATH: [noCompilerDir, dirname(process.execPath), ...path].join(delimiter), CC: join(noCompilerDir, 'cc'), CXX: join(noCompilerDir, 'c++') };
}

/** A fresh project folder with a package.json, where `npm install` puts xen-domconfig. */
export function newProject(dir: string, manifest: Record<string, unknown> = {}): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, ...manifest }));
  return dir;
}

export const INSTALL = ['install', '--prefer-offline', '--no-audit', '--no-fund'];
