/**
 * `claude-relay db check [--db PATH]`: the thorough integrity check of the hub's SQLite file (the hub
 * itself runs the quick one at every start and refuses a damaged file). Read-only, so it can run while a
 * hub uses the file. Prints `ok` or the problems and what to do; exits 0 (sound), 1 (damaged) or 2 (could
 * not check: no such file, or --db names another store). Implementation: server/store/integrity.ts.
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { withEnv } from "./hub-command.js";

interface CheckArgs {
	db?: string;
}

const checkCommand: CommandModule<object, CheckArgs> = {
	command: "check",
	describe: "Check the hub's SQLite file for damage (safe while the hub runs); exit 0 ok, 1 damaged, 2 not checked",
	builder: (y: Argv) =>
		y
			.options({
				db: withEnv("RELAY_DB", { type: "string", describe: "SQLite file to check (default: $RELAY_HOME/relay.db, as the hub)" }),
			})
			.example("$0 db check", "Check ~/.claude-relay/relay.db")
			.example("$0 db check --db /srv/relay/relay.db", "Check another file") as unknown as Argv<CheckArgs>,
	handler: async (argv: ArgumentsCamelCase<CheckArgs>) => {
		const [{ paths }, { MEMORY_SPEC, isRedisUrl }, { checkDatabaseFile, damagedAdvice }] = await Promise.all([
			import("./paths.js"),
			import("./store/index.js"),
			import("./store/integrity.js"),
		]);
		const file = argv.db ?? paths.database();
		if (file === MEMORY_SPEC || isRedisUrl(file)) {
			process.stderr.write(`claude-relay db check: ${file === MEMORY_SPEC ? "an in-memory store" : "a Redis store"} has no file to check; db check reads SQLite files.\n`);
			process.exitCode = 2;
			return;
		}
		const result = checkDatabaseFile(file);
		if (!result.checked) {
			process.stderr.write(`claude-relay db check: ${result.problems.join("; ")}\n`);
			process.exitCode = 2;
			return;
		}
		if (result.problems.length === 0) {
			const count = result.messages === undefined ? "" : ` (${result.messages.toLocaleString("en-US")} messages)`;
			process.stdout.write(`ok: ${file}${count}\n`);
			return;
		}
		const lines = [`damaged: ${file}`, ...result.problems.map((p) => `  ${p}`), "", damagedAdvice(file), ""];
		process.stdout.write(lines.join("\n"));
		process.exitCode = 1;
	},
};

export const dbCommand: CommandModule = {
	command: "db",
	describe: "The hub's database: `db check` looks for damage",
	builder: (y) => y.command(checkCommand).demandCommand(1, "Name an action: check"),
	handler: () => {
		// The subcommands do the work.
	},
};
