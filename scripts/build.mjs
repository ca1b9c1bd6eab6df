#!/usr/bin/env node
// Bundles the TypeScript sources into dist/ with esbuild.
//
// Why a bundle and not plain tsc output: every Claude session spawns the bridge, so its cold start matters,
// and Node resolving and reading hundreds of small ESM files (the MCP SDK, zod) costs more than the code.
// One entry (dist/cli.js) serves every subcommand; code splitting keeps `claude-relay mcp` from loading the
// hub, SQLite or yargs. Type-checking is separate (`npm run typecheck`).
//
// The dashboard (dashboard/, preact) is a second, browser build into dist/dashboard/: app.js, app.css and
// index.html, which the hub serves from memory (server/http/dashboard.ts). Nothing is fetched at run time.
//
//   node scripts/build.mjs             build
//   node scripts/build.mjs --if-stale  build only if a source file is newer than dist/cli.js
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleTrim } from "../mcp-client/bundle-trim.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist");
const sourceDirs = ["server", "mcp-client", "sessions", "launchd", "scripts", "dashboard"];

function newestSource(dir) {
	let newest = 0;
	for (const entry of readdirSync(dir, { withFileTypes: true })) {
		const p = join(dir, entry.name);
		if (entry.isDirectory()) newest = Math.max(newest, newestSource(p));
		else if (/\.(ts|tsx|mjs|json|plist|service|css|html)$/.test(entry.name)) newest = Math.max(newest, statSync(p).mtimeMs);
	}
	return newest;
}

if (process.argv.includes("--if-stale")) {
	try {
		const built = statSync(join(out, "cli.js")).mtimeMs;
		const newest = Math.max(...sourceDirs.map((d) => newestSource(join(root, d))), statSync(join(root, "package.json")).mtimeMs);
		if (built >= newest) process.exit(0);
	} catch {
		// no dist yet: build
	}
}

let esbuild;
try {
	esbuild = await import("esbuild");
} catch {
	console.error("build: esbuild is not installed. Run `npm install` (or `npm ci`) in the repository first.");
	process.exit(1);
}

// Entry points: the CLI (every subcommand) and the benchmark runner.
const entries = { cli: "scripts/cli.ts", bench: "scripts/bench/main.ts" };

// Build beside dist/ and swap it in, so a process running from dist/ (a hub, a test) never sees a half-written
// tree, and chunk names from an older build stay valid until the swap.
const staging = `${out}.staging-${process.pid}`;
rmSync(staging, { recursive: true, force: true });
const started = Date.now();
await esbuild.build({
	absWorkingDir: root,
	entryPoints: Object.fromEntries(Object.entries(entries).filter(([, file]) => existsSync(join(root, file)))),
	outdir: staging,
	bundle: true,
	splitting: true,
	format: "esm",
	platform: "node",
	target: "node20",
	sourcemap: "linked",
	// Stay in node_modules: native addons, packages that load files relative to themselves at run time
	// (pino's workers), and CommonJS that reads its own __filename (write-file-atomic), which an ESM
	// bundle does not have.
	// ioredis is loaded only by a hub on --db redis://, from node_modules as published.
	external: ["better-sqlite3", "pino", "write-file-atomic", "ioredis", "bufferutil", "utf-8-validate"],
	banner: {
		// Bundled CommonJS (ws) calls require() for Node built-ins; give ESM output a real require.
		js: "import { createRequire as __relayCreateRequire } from 'node:module'; const require = __relayCreateRequire(import.meta.url);",
	},
	chunkNames: "chunks/[name]-[hash]",
	// Leaves out SDK dependencies the bridge never runs, for its cold start (see the file).
	plugins: [bundleTrim],
	logLevel: "warning",
	metafile: true,
}).then((result) => {
	if (process.argv.includes("--analyze")) console.error(esbuild.analyzeMetafileSync(result.metafile));
});
// The dashboard, for browsers: one script and one stylesheet (imported by it), minified; preact is bundled in.
await esbuild.build({
	absWorkingDir: root,
	entryPoints: { app: "dashboard/main.tsx" },
	outdir: join(staging, "dashboard"),
	bundle: true,
	format: "esm",
	platform: "browser",
	target: ["chrome111", "firefox113", "safari16.4"],
	jsx: "automatic",
	jsxImportSource: "preact",
	minify: true,
	sourcemap: "linked",
	legalComments: "linked",
	logLevel: "warning",
});
mkdirSync(join(staging, "dashboard"), { recursive: true });
copyFileSync(join(root, "dashboard", "index.html"), join(staging, "dashboard", "index.html"));
chmodSync(join(staging, "cli.js"), 0o755);
const retired = `${out}.old-${process.pid}`;
if (existsSync(out)) renameSync(out, retired);
renameSync(staging, out);
rmSync(retired, { recursive: true, force: true });
console.error(`build: dist/ written in ${Date.now() - started} ms`);
