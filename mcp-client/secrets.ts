/**
 * Per-ID secrets: the hub mints one at the first claim of an ID and wants it on every later claim, so that
 * nobody else can take the ID over. They live under $RELAY_HOME/secrets, one file per room and ID
 * (`<room>.<id>.secret`), mode 0600 in a 0700 directory, written atomically (temp file + rename) so a
 * crash mid-write never leaves a truncated secret behind.
 *
 * A secret that cannot be written is still kept in memory, so this process can reconnect; the failure is
 * logged loudly because the next bridge with this ID will be refused (E_ID_TAKEN).
 *
 * Links are never followed: a secret file that is a symbolic link (or a hard link, a FIFO, or a file of
 * another user) is refused with a logged reason, and so is a secrets directory that is a symbolic link.
 * Otherwise `load()` would read, and fix the mode of, whatever the link points to: as root, possibly a
 * system file, whose content would then be presented to the hub as the secret. Reads open the file with
 * O_NOFOLLOW and check and chmod the descriptor, not the path, so nothing can be swapped in between.
 */
import { randomBytes } from "node:crypto";
import {
	chmodSync,
	closeSync,
	constants,
	fchmodSync,
	fstatSync,
	fsyncSync,
	lstatSync,
	mkdirSync,
	openSync,
	readFileSync,
	renameSync,
	rmSync,
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
		const refuse = (why: string) => {
			this.log?.warn({ file }, `refusing the secret file ${file}: ${why}`);
			return undefined;
		};
		let fd: number | undefined;
		try {
			if (this.#dirIsLink())
				return refuse(
					`the secrets directory ${this.dir} is a symbolic link, which claude-relay does not follow; make it a real directory`,
				);
			// O_NONBLOCK: opening a FIFO planted there must not hang the process.
			fd = openSync(
				file,
				constants.O_RDONLY |
					(constants.O_NOFOLLOW ?? 0) |
					(constants.O_NONBLOCK ?? 0),
			);
			const st = fstatSync(fd);
			if (!st.isFile()) return refuse("it is not a regular file; delete it");
			if (process.platform !== "win32") {
				const uid = process.getuid?.();
				if (uid !== undefined && st.uid !== uid)
					return refuse(
						`it belongs to uid ${st.uid}, not to this user (${uid}); delete it`,
					);
				if (st.nlink > 1)
					return refuse(
						"it has other hard links (it may be another file); delete it",
					);
				if ((st.mode & 0o077) !== 0) {
					fchmodSync(fd, 0o600);
					this.log?.warn(
						{ file },
						"secret file was readable by other users; changed it to mode 0600",
					);
				}
			}
			const secret = readFileSync(fd, "utf8").trim();
			if (!secret) return undefined;
			this.#memory.set(key, secret);
			return secret;
		} catch (err) {
			const code = (err as NodeJS.ErrnoException).code;
			if (code === "ELOOP" || code === "EMLINK")
				return refuse(
					"it is a symbolic link, which claude-relay does not follow; delete it (the hub then refuses this ID until its real secret is back)",
				);
			if (code !== "ENOENT")
				this.log?.warn(
					{ file, err: (err as Error).message },
					"cannot read the secret file",
				);
			return undefined;
		} finally {
			if (fd !== undefined) closeSync(fd);
		}
	}

	/** Whether the secrets directory itself is a symbolic link (then nothing in it is used). */
	#dirIsLink(): boolean {
		try {
			return lstatSync(this.dir).isSymbolicLink();
		} catch {
			return false;
		}
	}

	/** Deletes a stored secret (an ID this client released: renamed away from). Never throws. */
	remove(room: string, session: string): void {
		this.#memory.delete(`${room}\u0000${session}`);
		try {
			if (this.#dirIsLink()) return;
			rmSync(this.file(room, session), { force: true });
		} catch (err) {
			this.log?.warn({ file: this.file(room, session), err: (err as Error).message }, "cannot remove the secret file");
		}
	}

	save(room: string, session: string, secret: string): void {
		this.#memory.set(`${room}\u0000${session}`, secret);
		const file = this.file(room, session);
		const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
		try {
			mkdirSync(this.dir, { recursive: true, mode: 0o700 });
			// lstat, and never chmod through a link: a linked directory could be any directory.
			const dir = lstatSync(this.dir);
			if (dir.isSymbolicLink())
				throw new Error(
					`the secrets directory ${this.dir} is a symbolic link, which claude-relay does not follow; make it a real directory`,
				);
			if (process.platform !== "win32" && (dir.mode & 0o077) !== 0)
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
				`cannot store the per-ID secret (${(err as Error).message}): this bridge keeps it in memory, but the next one with this ID will be refused (E_ID_TAKEN)`,
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

	remove(room: string, session: string): void {
		this.#secrets.delete(`${room}\u0000${session}`);
	}
}
