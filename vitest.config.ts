import { defineConfig } from "vitest/config";

export default defineConfig({
	test: {
		include: ["test/**/*.test.ts"],
		// The caller's RELAY_* / CLAUDE_* variables never reach a test (see test/fixtures/env.ts).
		setupFiles: ["test/fixtures/setup-env.ts"],
		globalSetup: ["test/fixtures/global-env.ts"],
		// Integration tests start real hubs and spawn real processes: give them room, and keep the
		// 2-core machine from running too many at once.
		testTimeout: 30_000,
		hookTimeout: 30_000,
		maxWorkers: 2,
		pool: "forks",
	},
});
