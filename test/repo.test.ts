/**
 * Repository identity (mcp-client/repo.ts): origin URLs that name one repository normalize to one identity,
 * against real git repositories (clones, worktrees, no remote, symlinked paths, files not written yet).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { locateFile, normalizeRemote, repoOf, repoRelative } from "../mcp-client/repo.js";
import { tempDir } from "./fixtures/hub.js";

describe("normalizeRemote", () => {
	it("every spelling of one GitHub repository is github.com/owner/repo", () => {
		for (const url of [
			"git@github.com:a/b.git",
			"git@github.com:a/b",
			"https://github.com/a/b",
			"https://github.com/a/b.git",
			"https://github.com/a/b/",
			"https://user:token@github.com/a/b.git",
			"ssh://git@github.com/a/b.git",
			"ssh://git@github.com:22/a/b.git",
			"git://github.com/a/b.git",
			"git+ssh://git@github.com/a/b",
			"https://GitHub.com/A/B.GIT",
			"  git@github.com:a/b.git\n",
			"github.com:a/b.git",
		]) {
			expect(normalizeRemote(url), url).toBe("github.com/a/b");
		}
	});

	it("different repositories, hosts and nested groups stay apart", () => {
		expect(normalizeRemote("git@github.com:a/c.git")).toBe("github.com/a/c");
		expect(normalizeRemote("git@gitlab.com:a/b.git")).toBe("gitlab.com/a/b");
		expect(normalizeRemote("https://gitlab.com/group/sub/b.git")).toBe("gitlab.com/group/sub/b");
		expect(normalizeRemote("ssh://git@git.corp:2222/x/y.git")).toBe("git.corp/x/y");
	});

	it("local paths are absolute, without .git, case kept; nonsense is null", () => {
		expect(normalizeRemote("/srv/git/Api.git")).toBe("/srv/git/Api");
		expect(normalizeRemote("file:///srv/git/Api.git")).toBe("/srv/git/Api");
		expect(normalizeRemote("../up/api.git", "/home/me/work/api")).toBe("/home/me/work/up/api");
		expect(normalizeRemote("")).toBeNull();
		expect(normalizeRemote("https://")).toBeNull();
	});

	it("repoRelative refuses the root itself and anything outside", () => {
		expect(repoRelative("/r", "/r/src/x.ts")).toBe("src/x.ts");
		expect(repoRelative("/r", "/r")).toBeNull();
		expect(repoRelative("/r", "/rr/x")).toBeNull();
		expect(repoRelative("/r", "/x")).toBeNull();
	});
});

describe("repoOf and locateFile against real repositories", () => {
	let tmp: ReturnType<typeof tempDir>;
	const git = (cwd: string, ...args: string[]) => {
		const r = spawnSync("git", args, { cwd, encoding: "utf8", env: { PATH: process.env.PATH, HOME: cwd, GIT_CONFIG_NOSYSTEM: "1" } });
		if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
	};

	beforeAll(() => {
		tmp = tempDir("relay-repo-");
		const main = join(tmp.dir, "main");
		mkdirSync(join(main, "src"), { recursive: true });
		writeFileSync(join(main, "src", "a.ts"), "a\n");
		git(tmp.dir, "init", "-q", "-b", "main", main);
		git(main, "remote", "add", "origin", "git@github.com:acme/api.git");
		git(main, "-c", "user.email=t@t", "-c", "user.name=t", "add", ".");
		git(main, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init");
		git(main, "worktree", "add", "-q", join(tmp.dir, "wt"), "-b", "feature");
		git(tmp.dir, "init", "-q", join(tmp.dir, "lonely-project"));
		symlinkSync(main, join(tmp.dir, "link"));
	});
	afterAll(() => tmp.cleanup());

	it("a repository with an origin, from any directory inside it", async () => {
		expect(await repoOf(join(tmp.dir, "main", "src"))).toMatchObject({ identity: "github.com/acme/api" });
	});

	it("a worktree has its main repository's identity", async () => {
		expect(await repoOf(join(tmp.dir, "wt"))).toMatchObject({ identity: "github.com/acme/api" });
	});

	it("no origin: the root's directory name; no repository: null", async () => {
		expect(await repoOf(join(tmp.dir, "lonely-project"))).toMatchObject({ identity: "lonely-project" });
		expect(await repoOf(tmp.dir)).toBeNull();
	});

	it("ignores GIT_DIR of whatever repository the caller runs in", async () => {
		const before = process.env.GIT_DIR;
		process.env.GIT_DIR = join(tmp.dir, "lonely-project", ".git");
		try {
			expect(await repoOf(join(tmp.dir, "main"))).toMatchObject({ identity: "github.com/acme/api" });
		} finally {
			if (before === undefined) delete process.env.GIT_DIR;
			else process.env.GIT_DIR = before;
		}
	});

	it("locateFile: relative, through a symlink, and for files (and directories) that do not exist yet", async () => {
		expect(await locateFile("src/a.ts", join(tmp.dir, "main"))).toMatchObject({ identity: "github.com/acme/api", path: "src/a.ts" });
		expect(await locateFile(join(tmp.dir, "link", "src", "a.ts"), tmp.dir)).toMatchObject({ path: "src/a.ts" });
		expect(await locateFile("new/dir/file.ts", join(tmp.dir, "main", "src"))).toMatchObject({ path: "src/new/dir/file.ts" });
		expect(await locateFile(join(tmp.dir, "elsewhere.txt"), tmp.dir)).toBeNull();
	});
});
