/**
 * Per-ID secrets: the hub mints one at the first claim of an ID and wants it on every later claim, so that
 * nobody else can take the ID over. They live under $RELAY_HOME/secrets, one file per room and ID
 * (`<room>.<id>.secret`), mode 0600 in a 0700 directory, written atomically (temp file + rename) so a
 * crash mid-write never leaves a truncated secret behind.
 *
 * A secret that cannot be written is still kept in memory, so this process can reconnect; the failure is
 * logged loudly because the next bridge with this ID will be refused (E_ID_TAKEN).
 */
import { randomBytes } from "node:crypto";
import {
	chmodSync,
	closeSync,
	fsyncSync,
	mkdirSync,
	openSync,
	readFileSync,
	renameSync,
	rmSync,
	statSync,
	writeSync,
} from "node:fs";
import { join } from "node:path";
import type { SecretStore } from "./hub-client.js";

export interface SecretLog {
	warn(obj: object, msg: string): void;
	error(obj: object, msg: string): void;
}

export class FileSecretStore implements SecretStore {
	readonly #memory = new Map<string, string>();

	constructor(
		readonly dir: string,
		private readonly log?: SecretLog,
	) {}

	file(room: string, session: string): string {
		return join(this.dir, `${room}.${session}.secret`);
	}

	load(room: string, session: string): string | undefined {
		const key = `${room}\u0000${session}`;
		const cached = this.#memory.get(key);
		if (cached) return cached;
		const file = this.file(room, session);
		try {
			const mode = statSync(file).mode;
			if (process.platform !== "win32" && (mode & 0o077) !== 0) {
				chmodSync(file, 0o600);
				this.log?.warn(
					{ file },
					"secret file was readable by other users; changed it to mode 0600",
				);
			}
			const secret = readFileSync(file, "utf8").trim();
			if (!secret) return undefined;
			this.#memory.set(key, secret);
			return secret;
		} catch (err) {
			if ((err as NodeJS.ErrnoException).code !== "ENOENT")
				this.log?.warn(
					{ file, err: (err as Error).message },
					"cannot read the secret file",
				);
			return undefined;
		}
	}

	save(room: string, session: string, secret: string): void {
		this.#memory.set(`${room}\u0000${session}`, secret);
		const file = this.file(room, session);
		const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
		try {
			mkdirSync(this.dir, { recursive: true, mode: 0o700 });
			if (
				process.platform !== "win32" &&
				(statSync(this.dir).mode & 0o077) !== 0
			)
				chmodSync(this.dir, 0o700);
			const fd = openSync(tmp, "wx", 0o600);
			try {
				writeSync(fd, `${secret}\n`);
				fsyncSync(fd);
			} finally {
				closeSync(fd);
			}
			renameSync(tmp, file);
		} catch (err) {
			try {
				rmSync(tmp, { force: true });
			} catch {
				// nothing was written, or the directory itself is the problem
			}
			this.log?.error(
				{ file, err: (err as Error).message },
				"cannot store the per-ID secret: this bridge keeps it in memory, but the next one with this ID will be refused (E_ID_TAKEN)",
			);
		}
	}
}

/** Secrets held by this process only: for an ephemeral ID (`<host>-<pid>`), which no later process claims. */
export class MemorySecretStore implements SecretStore {
	readonly #secrets = new Map<string, string>();

	load(room: string, session: string): string | undefined {
		return this.#secrets.get(`${room}\u0000${session}`);
	}

	save(room: string, session: string, secret: string): void {
		this.#secrets.set(`${room}\u0000${session}`, secret);
	}
}
