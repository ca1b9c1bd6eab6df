/**
 * mcp-client/harness/toml-table.ts: one table of a TOML file set or removed, every other byte kept (comments
 * included), and refused, with nothing returned, when that cannot be done cleanly. Results parsed back with
 * smol-toml.
 */
import { parse } from "smol-toml";
import { describe, expect, it } from "vitest";
import { headerPath, setTable, TomlEditError } from "../mcp-client/harness/toml-table.js";

const PATH = ["mcp_servers", "relay"];
const ENTRY = { command: "/usr/bin/node", args: ["/opt/relay/dist/cli.js", "mcp"], env_vars: ["CLAUDE_RELAY_SESSION_ID", "RELAY_URL"] };

const USER = `# my codex settings
model = "gpt-5" # the good one
approval_policy = "on-request"

[mcp_servers.docs]
# documentation lookups
command = "npx"
args = ["-y", "docs-mcp"]   # pinned below

# the browser one
[mcp_servers.browser]
url = "http://localhost:3000/mcp"

[profiles.fast]
model = "gpt-5-mini"
`;

describe("headerPath", () => {
	it("reads header keys the way TOML does", () => {
		expect(headerPath("[mcp_servers.relay]")).toEqual(["mcp_servers", "relay"]);
		expect(headerPath('  [ mcp_servers . "re lay" ]  # note')).toEqual(["mcp_servers", "re lay"]);
		expect(headerPath("[[hooks.Stop]]")).toEqual(["hooks", "Stop"]);
		for (const l of ['args = ["a"]', '["a", "b"],', "[", "# [x]", "[a] b = 1"]) expect(headerPath(l)).toBeUndefined();
	});
});

describe("setTable", () => {
	it("appends a new table after a blank line, keeping every byte before it, and parses back to the entry", () => {
		const next = setTable(USER, PATH, ENTRY, "config.toml");
		expect(next.startsWith(USER)).toBe(true);
		expect(next.slice(USER.length)).toBe(
			'\n[mcp_servers.relay]\ncommand = "/usr/bin/node"\nargs = [ "/opt/relay/dist/cli.js", "mcp" ]\nenv_vars = [ "CLAUDE_RELAY_SESSION_ID", "RELAY_URL" ]\n',
		);
		const doc = parse(next) as { mcp_servers: Record<string, unknown>; profiles: unknown; model: string };
		expect(doc.mcp_servers.relay).toEqual(ENTRY);
		expect(Object.keys(doc.mcp_servers)).toEqual(["docs", "browser", "relay"]);
		expect(doc.model).toBe("gpt-5");
	});

	it("removing what it appended gives back the file byte for byte", () => {
		const next = setTable(USER, PATH, ENTRY, "config.toml");
		expect(setTable(next, PATH, undefined, "config.toml")).toBe(USER);
		// Also without a final newline, and from nothing.
		expect(setTable(setTable("", PATH, ENTRY, "c"), PATH, undefined, "c")).toBe("");
		const noEol = 'model = "x"';
		expect(setTable(setTable(noEol, PATH, ENTRY, "c"), PATH, undefined, "c")).toBe(`${noEol}\n`);
	});

	it("replaces a table in the middle in place, with its sub-tables, and leaves the comments around it", () => {
		const text = `${USER.replace("# the browser one\n", `[mcp_servers.relay]\ncommand = "old"\n# a note inside ours\n\n[mcp_servers.relay.env]\nRELAY_URL = "ws://old"\n\n# the browser one\n`)}`;
		const next = setTable(text, PATH, { ...ENTRY, env: { RELAY_ROOM: "team" } }, "c");
		expect(next).toContain('# the browser one\n[mcp_servers.browser]');
		expect(next).not.toContain("ws://old");
		expect(next).not.toContain("a note inside ours"); // our own table is rewritten from its value
		const doc = parse(next) as { mcp_servers: Record<string, unknown> };
		expect(Object.keys(doc.mcp_servers)).toEqual(["docs", "relay", "browser"]);
		expect(doc.mcp_servers.relay).toEqual({ ...ENTRY, env: { RELAY_ROOM: "team" } });
		// The lines before and after ours, byte for byte.
		expect(next.slice(0, next.indexOf("[mcp_servers.relay]"))).toBe(text.slice(0, text.indexOf("[mcp_servers.relay]")));
		expect(next.slice(next.indexOf("# the browser one"))).toBe(text.slice(text.indexOf("# the browser one")));
		// Removed from the middle: one blank line where it was.
		const removed = setTable(next, PATH, undefined, "c");
		expect(removed).toBe(USER.replace("# the browser one\n", "\n# the browser one\n").replace("\n\n\n", "\n\n"));
		expect((parse(removed) as { mcp_servers: Record<string, unknown> }).mcp_servers.relay).toBeUndefined();
	});

	it("gathers pieces of the table spread over the file", () => {
		const text = `[mcp_servers.relay]\ncommand = "a"\n\n[other]\nx = 1\n\n[mcp_servers.relay.env]\nK = "v"\n`;
		const next = setTable(text, PATH, ENTRY, "c");
		expect(parse(next)).toEqual({ mcp_servers: { relay: ENTRY }, other: { x: 1 } });
		expect(next).toContain("[other]\nx = 1\n");
	});

	it("refuses, changing nothing, what it cannot edit line by line", () => {
		const refuse = (text: string) => expect(() => setTable(text, PATH, ENTRY, "config.toml")).toThrow(TomlEditError);
		refuse('mcp_servers = { relay = { command = "x" } }\n'); // inline: cannot add a table to it
		refuse('[mcp_servers]\nrelay = { command = "x" }\n'); // ours as an inline table
		refuse('mcp_servers.relay.command = "x"\n'); // dotted keys
		refuse('note = """\n[mcp_servers.relay]\n"""\n[mcp_servers.relay]\ncommand = "x"\n'); // a header-like line in a string
		expect(() => setTable("model = ", PATH, ENTRY, "config.toml")).toThrow(/config\.toml is not valid TOML \(line 1/);
		// Removal of an inline definition is refused too, rather than leaving it half there.
		expect(() => setTable('[mcp_servers]\nrelay = { command = "x" }\n', PATH, undefined, "c")).toThrow(/cannot remove \[mcp_servers\.relay\]/);
	});

	it("an absent table to remove leaves the text as it is", () => {
		expect(setTable(USER, PATH, undefined, "c")).toBe(USER);
	});
});
