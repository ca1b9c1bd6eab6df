/**
 * What relay_claim, relay_release and relay_claims share: which repository a claim belongs to (the bridge's
 * own, from git, unless the call names one) and paths made repo-relative (an absolute path inside the
 * repository is accepted and converted; the hub refuses absolute ones).
 */
import { isAbsolute } from "node:path";
import { z } from "zod";
import { ErrorCode, RelayError } from "../../server/errors.js";
import { CLAIM_MAX_PATHS, REPO_MAX_CHARS } from "../../server/protocol.js";
import type { BridgeContext } from "../context.js";
import type { RepoInfo } from "../repo.js";

export const repoInput = z
	.string()
	.min(1)
	.max(REPO_MAX_CHARS)
	.optional()
	.describe("Repository identity (default: this session's, from its origin URL, e.g. github.com/owner/repo)");

export const pathsInput = z
	.array(z.string().min(1).max(1024))
	.min(1)
	.max(CLAIM_MAX_PATHS)
	.describe("Repo-relative paths or globs: src/auth/** (a directory and all below), src/api/*.ts, README.md");

/** The repository to use: the named one, else this session's (with its root, for converting paths). */
export async function claimRepo(ctx: BridgeContext, named: string | undefined): Promise<{ identity: string; local: RepoInfo | null }> {
	const local = await ctx.repo();
	if (named !== undefined) return { identity: named, local: local?.identity === named ? local : null };
	if (!local) {
		throw new RelayError(
			ErrorCode.BAD_PATH,
			`This session's directory (${process.cwd()}) is not inside a git repository (or git did not answer), so claims have no repository to belong to. Pass repo (e.g. "github.com/owner/name") or start the session inside the repository.`,
		);
	}
	return { identity: local.identity, local };
}

/** Paths as the hub wants them: absolute ones inside the local repository made repo-relative. */
export async function repoPaths(paths: readonly string[], local: RepoInfo | null): Promise<string[]> {
	const { realTarget, repoRelative } = await import("../repo.js");
	return paths.map((p) => {
		if (!isAbsolute(p)) return p;
		const rel = local ? repoRelative(local.root, realTarget(p, process.cwd()).path) : null;
		if (rel === null) {
			throw new RelayError(
				ErrorCode.BAD_PATH,
				`${JSON.stringify(p)} is absolute and not inside ${local ? `the repository at ${local.root}` : "this session's repository"}; give paths relative to the repository root.`,
			);
		}
		return rel;
	});
}
