/**
 * Opening claude-relay's own state files (the sessions registry, the hooks' state) without being led
 * elsewhere by what else is in the directory:
 *
 * - `readOwnFile` never follows a symbolic link (O_NOFOLLOW, checked on the open descriptor), refuses
 *   anything but a regular file, and never blocks on a FIFO;
 * - `clearStrayLock` removes whatever non-directory sits where proper-lockfile makes its lock directory
 *   (`<file>.lock`). proper-lockfile only ever creates a directory there, so a plain file or a link is never
 *   a lock a claude-relay process holds: without this, `mkdir` fails with EEXIST, removing the "stale lock"
 *   fails with ENOTDIR, and every write retries for ~20 s before failing.
 */
import { constants } from "node:fs";
import { lstat, open, unlink } from "node:fs/promises";

/** A state file claude-relay refuses to use, with what to do about it. */
export class UnsafeFileError extends Error {
	override name = "UnsafeFileError";
	constructor(
		readonly file: string,
		message: string,
	) {
		super(message);
	}
}

/** The file's text, or undefined when it does not exist. Throws UnsafeFileError for a link or a non-file. */
export async function readOwnFile(
	file: string,
	what: string,
): Promise<string | undefined> {
	let handle: Awaited<ReturnType<typeof open>>;
	try {
		handle = await open(
			file,
			constants.O_RDONLY |
				(constants.O_NOFOLLOW ?? 0) |
				(constants.O_NONBLOCK ?? 0),
		);
	} catch (err) {
		const code = (err as NodeJS.ErrnoException).code;
		if (code === "ENOENT") return undefined;
		if (code === "ELOOP" || code === "EMLINK")
			throw new UnsafeFileError(
				file,
				`${what} ${file} is a symbolic link, which claude-relay does not follow (it would read and replace the file it points to); delete the link (rm ${file}) and retry`,
			);
		throw err;
	}
	try {
		const st = await handle.stat();
		if (!st.isFile())
			throw new UnsafeFileError(
				file,
				`${what} ${file} is not a regular file; delete it (rm ${file}) and retry`,
			);
		return await handle.readFile("utf8");
	} finally {
		await handle.close();
	}
}

/** Throws UnsafeFileError when `file` is a symbolic link (checked right before replacing it). */
export async function refuseLink(file: string, what: string): Promise<void> {
	try {
		if ((await lstat(file)).isSymbolicLink())
			throw new UnsafeFileError(
				file,
				`${what} ${file} is a symbolic link, which claude-relay does not follow; delete the link (rm ${file}) and retry`,
			);
	} catch (err) {
		if (err instanceof UnsafeFileError) throw err;
		// missing: nothing to refuse
	}
}

/**
 * Removes a non-directory at `<file>.lock` (see the file header); `warn` is told what was removed. Throws
 * UnsafeFileError saying exactly what to delete when it cannot be removed.
 */
export async function clearStrayLock(
	file: string,
	warn: (message: string) => void,
): Promise<void> {
	const lock = `${file}.lock`;
	let kind: string;
	try {
		const st = await lstat(lock);
		if (st.isDirectory()) return;
		kind = st.isSymbolicLink() ? "symbolic link" : st.isFile() ? "file" : "special file";
	} catch {
		return;
	}
	try {
		await unlink(lock);
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
		throw new UnsafeFileError(
			lock,
			`${lock} is a ${kind}, not the lock directory claude-relay makes there, and cannot be removed (${(err as Error).message}); delete it (rm ${lock}) and retry`,
		);
	}
	warn(
		`removed ${lock}: a stray ${kind} where claude-relay makes its lock directory (no claude-relay process ever holds a lock as a ${kind})`,
	);
}
