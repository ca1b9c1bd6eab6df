/**
 * Which web pages and which host names may reach the hub. A browser lets any page open a WebSocket to
 * 127.0.0.1 (no same-origin policy for WebSockets) and, through DNS rebinding, make requests to it under a
 * name the attacker controls. Both leave marks a non-browser client never leaves, so the hub checks them on
 * every upgrade and every HTTP request, before looking at anything else:
 *
 * - `Host` must be a name this hub answers to: `localhost`, any 127/8 address or `[::1]` (on any bind:
 *   a rebinding page sends its own name, never these); on a non-loopback bind also the bound address (on
 *   0.0.0.0/:: every interface address and this machine's hostname); plus each `--allow-host`. The port in `Host` is not checked: an SSH tunnel or a load balancer
 *   forwards another port to ours, and a rebinding page can change only the name. An absent `Host` (only
 *   HTTP/1.0 can omit it, no browser does) passes.
 * - `Origin`, when present, must be the hub's own origin (http(s) on a host name above with the hub's port,
 *   or exactly the authority the request was sent to, for pages served through a tunnel) or one given with
 *   `--allow-origin`. An absent Origin passes: browsers always send one on WebSocket upgrades and
 *   cross-origin requests, other clients (ours included) do not. `Origin: null` (sandboxed frames, file://
 *   pages) is refused.
 */
import type { IncomingHttpHeaders } from "node:http";
import { BlockList, isIP } from "node:net";
import { networkInterfaces, hostname as osHostname } from "node:os";
import { ErrorCode } from "./errors.js";

export interface RequestGuardOptions {
	/** The `host` option the hub was started with (an address or a name). */
	bindHost: string;
	/** The address the server actually bound (from server.address()). */
	boundAddress: string;
	/** The port it listens on. */
	port: number;
	/** Origins allowed besides the hub's own (`--allow-origin`), as given. */
	allowOrigins: readonly string[];
	/** Host names allowed besides the bound ones (`--allow-host`), as given. */
	allowHosts: readonly string[];
}

export interface Refusal {
	header: "Host" | "Origin";
	/** The refused value, made printable and cut to 200 characters. */
	value: string;
	code: typeof ErrorCode.BAD_HOST | typeof ErrorCode.BAD_ORIGIN;
	message: string;
}

const REFUSALS_LOGGED = 1_000;

const loopback = new BlockList();
loopback.addSubnet("127.0.0.0", 8, "ipv4");
loopback.addAddress("::1", "ipv6");

/** A host name as compared here: lower case, no brackets around IPv6, no trailing dot, IPs canonical. */
function canonicalName(name: string): string {
	let h = name.trim().toLowerCase();
	if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
	if (h.endsWith(".")) h = h.slice(0, -1);
	const family = isIP(h);
	// The WHATWG parser is what a browser used to write the header: it canonicalises IPv6 (and odd IPv4 forms).
	if (family === 6) return new URL(`http://[${h}]`).hostname.slice(1, -1);
	if (family === 4) return new URL(`http://${h}`).hostname;
	return h;
}

/** Whether a canonical host name always means this machine: `localhost`, 127/8, ::1 (also IPv4-mapped). */
export function isLoopbackName(name: string): boolean {
	if (name === "localhost") return true;
	const family = isIP(name);
	// A canonical dotted quad: 127/8 by its first octet (BlockList.check cost ~9 µs an upgrade).
	if (family === 4) return name.startsWith("127.");
	if (family === 6) return loopback.check(name, "ipv6");
	return false;
}

function isWildcard(host: string): boolean {
	const h = canonicalName(host);
	return h === "" || h === "0.0.0.0" || h === "::";
}

/**
 * Parses a Host header into its canonical name and port (undefined when absent). Undefined for anything a
 * browser could not have sent: user info, a path, spaces, an unbracketed IPv6 address.
 */
export function parseHostHeader(value: string): HostHeader | undefined {
	// Every upgrade carries one, nearly always the same few values; `new URL` is most of a guard check (about
	// 30 µs of an upgrade in a connect profile). Bounded (256 values of ≤ 300 characters): a flood of
	// distinct ones only empties it.
	if (value.length > 300) return undefined;
	const cached = hostCache.get(value);
	if (cached !== undefined || hostCache.has(value)) return cached;
	if (hostCache.size >= HOST_CACHE_MAX) hostCache.clear();
	const parsed = parseHostUncached(value);
	hostCache.set(value, parsed);
	return parsed;
}

type HostHeader = Readonly<{ name: string; port: number | undefined }>;
const HOST_CACHE_MAX = 256;
const hostCache = new Map<string, HostHeader | undefined>();
/** How many Host values the cache holds (for the test of its bound). */
export const hostCacheSize = (): number => hostCache.size;

function parseHostUncached(value: string): HostHeader | undefined {
	if (!/^[A-Za-z0-9._~:[\]-]{1,300}$/.test(value)) return undefined;
	let url: URL;
	try {
		url = new URL(`http://${value}`);
	} catch {
		return undefined;
	}
	if (url.username || url.password || url.pathname !== "/") return undefined;
	const explicit = /:(\d{1,5})$/.exec(value);
	return Object.freeze({
		name: canonicalName(url.hostname),
		port: explicit ? Number(explicit[1]) : undefined,
	});
}

/** `https://x.example:8443/` → `https://x.example:8443`. Throws with a sentence for anything that is not an http(s) origin. */
export function normalizeOrigin(value: string): string {
	let url: URL;
	try {
		url = new URL(value.trim());
	} catch {
		throw new Error(
			`--allow-origin ${JSON.stringify(value)} is not an origin; give scheme, host and port, e.g. https://dash.example.com:8443`,
		);
	}
	if (
		(url.protocol !== "http:" && url.protocol !== "https:") ||
		url.username ||
		url.password ||
		url.pathname !== "/" ||
		url.search ||
		url.hash
	) {
		throw new Error(
			`--allow-origin ${JSON.stringify(value)} is not an http(s) origin; give scheme, host and port only, e.g. https://dash.example.com:8443`,
		);
	}
	return url.origin;
}

/** Checks an `--allow-host` value: a name or an address, without a port (ports are not checked). */
export function normalizeAllowedHost(value: string): string {
	const v = value.trim();
	const parsed = parseHostHeader(v);
	if (!parsed || parsed.name === "")
		throw new Error(
			`--allow-host ${JSON.stringify(value)} is not a host name or address`,
		);
	if (parsed.port !== undefined)
		throw new Error(
			`--allow-host ${JSON.stringify(value)}: give the name without a port (the port in Host is not checked)`,
		);
	return parsed.name;
}

/** What a refused value looks like in a response or a log line: printable ASCII, at most 200 characters. */
function printable(value: string): string {
	const clean = value.replace(/[^\x20-\x7e]/g, "?");
	return clean.length > 200 ? `${clean.slice(0, 200)}…` : clean;
}

export class RequestGuard {
	readonly #opts: RequestGuardOptions;
	readonly #allowOrigins: ReadonlySet<string>;
	readonly #allowHosts: ReadonlySet<string>;
	readonly #loopbackBind: boolean;
	readonly #wildcard: boolean;
	readonly #interfaces: () => string[];
	readonly #machineName: () => string;
	#cachedNames: { at: number; names: Set<string> } | undefined;
	readonly #logged = new Set<string>();

	constructor(
		opts: RequestGuardOptions,
		env: { interfaces?: () => string[]; hostname?: () => string } = {},
	) {
		this.#opts = opts;
		this.#allowOrigins = new Set(opts.allowOrigins.map(normalizeOrigin));
		this.#allowHosts = new Set(opts.allowHosts.map(normalizeAllowedHost));
		this.#loopbackBind =
			isLoopbackName(canonicalName(opts.bindHost)) ||
			isLoopbackName(canonicalName(opts.boundAddress));
		this.#wildcard = isWildcard(opts.bindHost) || isWildcard(opts.boundAddress);
		this.#interfaces = env.interfaces ?? interfaceAddresses;
		this.#machineName = env.hostname ?? osHostname;
	}

	/** The names a non-loopback hub answers to, beyond --allow-host; re-read every 10 s (interfaces change). */
	#boundNames(): Set<string> {
		const now = Date.now();
		if (this.#cachedNames && now - this.#cachedNames.at < 10_000)
			return this.#cachedNames.names;
		const names = new Set<string>([
			canonicalName(this.#opts.bindHost),
			canonicalName(this.#opts.boundAddress),
		]);
		if (this.#wildcard) {
			for (const a of this.#interfaces()) names.add(canonicalName(a));
			names.add(canonicalName(this.#machineName()));
		}
		this.#cachedNames = { at: now, names };
		return names;
	}

	/** Whether `name` (canonical) is one this hub answers to. */
	hostAllowed(name: string): boolean {
		// A loopback name is never an attacker's: a rebinding page sends its own name. It is also what a
		// client behind a tunnel or a local proxy sends, whatever the hub is bound to.
		if (this.#allowHosts.has(name) || isLoopbackName(name)) return true;
		if (this.#loopbackBind) return false;
		return this.#boundNames().has(name);
	}

	/** Null when the request may go on; otherwise why not (answer 403 with `message`). */
	check(headers: IncomingHttpHeaders): Refusal | null {
		const rawHost = headers.host;
		let host: ReturnType<typeof parseHostHeader>;
		if (rawHost !== undefined) {
			host = parseHostHeader(rawHost);
			if (!host || !this.hostAllowed(host.name)) {
				const name = host?.name ?? rawHost;
				return {
					header: "Host",
					value: printable(rawHost),
					code: ErrorCode.BAD_HOST,
					message:
						`Host ${JSON.stringify(printable(rawHost))} is not a name this hub answers to (a guard against DNS rebinding). ` +
						(this.#loopbackBind
							? "Connect through localhost or 127.0.0.1, "
							: "Connect through the address the hub listens on, ") +
						`or start the hub with --allow-host ${printable(name)} (env RELAY_ALLOW_HOST).`,
				};
			}
		}
		const rawOrigin = headers.origin;
		if (rawOrigin !== undefined && !this.#originAllowed(rawOrigin, host)) {
			return {
				header: "Origin",
				value: printable(rawOrigin),
				code: ErrorCode.BAD_ORIGIN,
				message:
					`Origin ${JSON.stringify(printable(rawOrigin))} is not allowed: the hub accepts web pages only from its own origin. ` +
					`To let this page in, start the hub with --allow-origin ${printable(rawOrigin)} (env RELAY_ALLOW_ORIGIN).`,
			};
		}
		return null;
	}

	#originAllowed(
		raw: string,
		host: ReturnType<typeof parseHostHeader>,
	): boolean {
		let url: URL;
		try {
			url = new URL(raw);
		} catch {
			return false; // includes "null"
		}
		if (url.protocol !== "http:" && url.protocol !== "https:") return false;
		if (this.#allowOrigins.has(url.origin)) return true;
		const name = canonicalName(url.hostname);
		if (!this.hostAllowed(name)) return false;
		const port = url.port
			? Number(url.port)
			: url.protocol === "https:"
				? 443
				: 80;
		if (port === this.#opts.port) return true;
		// A page served through a tunnel or a proxy: same authority as the request (loopback names are one).
		if (!host) return false;
		const sameName =
			name === host.name || (isLoopbackName(name) && isLoopbackName(host.name));
		return (
			sameName &&
			(host.port === undefined ? url.port === "" : port === host.port)
		);
	}

	/**
	 * True the first time a (header, value) is refused, so each is logged once. At most 1,000 distinct values
	 * are remembered (and logged), so a page cycling through origins cannot grow the set or flood the log.
	 */
	firstRefusal(refusal: Refusal): boolean {
		const key = `${refusal.header} ${refusal.value}`;
		if (this.#logged.has(key) || this.#logged.size >= REFUSALS_LOGGED)
			return false;
		this.#logged.add(key);
		return true;
	}

	/** Whether the log of refused values is full: later new values are refused without a log line. */
	get refusalLogFull(): boolean {
		return this.#logged.size >= REFUSALS_LOGGED;
	}
}

function interfaceAddresses(): string[] {
	const out: string[] = [];
	for (const list of Object.values(networkInterfaces()))
		for (const a of list ?? []) out.push(a.address);
	return out;
}
