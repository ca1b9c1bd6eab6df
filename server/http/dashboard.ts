/**
 * The dashboard's files: built by scripts/build.mjs into dist/dashboard/ (index.html, app.js, app.css) and
 * served from memory by the hub, so the page needs no network beyond the hub itself (no CDN, nothing fetched
 * at run time). Read once, at the first request for them; a hub nobody opens the dashboard of never reads them.
 *
 * Every page answer carries a Content-Security-Policy that lets the page run only its own script and talk only
 * to its own origin: even a message body that got into the page as markup could not run or load anything.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface DashboardFile {
	body: Buffer;
	type: string;
	etag: string;
}

const TYPES: Record<string, string> = {
	".html": "text/html; charset=utf-8",
	".js": "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".svg": "image/svg+xml",
	".map": "application/json; charset=utf-8",
};

/** No file of the dashboard is larger (the bundle is tens of KiB); a bigger one is not served. */
const MAX_FILE_BYTES = 4 * 1024 * 1024;

export const CONTENT_SECURITY_POLICY = [
	"default-src 'none'",
	"script-src 'self'",
	"style-src 'self'",
	"img-src 'self' data:",
	"connect-src 'self'",
	"base-uri 'none'",
	"form-action 'none'",
	"frame-ancestors 'none'",
].join("; ");

/**
 * Where the built files are: beside the bundle (dist/dashboard, seen from dist/ or dist/chunks/), or from the
 * sources (tests run them) the repository's dist/dashboard.
 */
export function findDashboardDir(from = dirname(fileURLToPath(import.meta.url))): string | null {
	for (const dir of [join(from, "dashboard"), join(from, "..", "dashboard"), join(from, "..", "..", "dist", "dashboard")]) {
		if (existsSync(join(dir, "index.html"))) return dir;
	}
	return null;
}

export class DashboardFiles {
	#files: Map<string, DashboardFile> | null = null;

	constructor(private readonly dir: string | null = findDashboardDir()) {}

	/** A file by name (`index.html`, `app.js`, ...), or undefined; null when the dashboard was not built. */
	get(name: string): DashboardFile | undefined | null {
		const files = this.#load();
		return files ? files.get(name) : null;
	}

	#load(): Map<string, DashboardFile> | null {
		if (this.#files || !this.dir) return this.#files;
		const files = new Map<string, DashboardFile>();
		for (const name of readdirSync(this.dir)) {
			const type = TYPES[extname(name)];
			const path = join(this.dir, name);
			if (!type || !statSync(path).isFile() || statSync(path).size > MAX_FILE_BYTES) continue;
			const body = readFileSync(path);
			files.set(name, { body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"` });
		}
		this.#files = files;
		return files;
	}
}
