// esbuild plugin (used by scripts/build.mjs): leaves out of the bundle the parts of the MCP SDK's dependency
// graph that the bridge never runs but would otherwise parse and evaluate at every cold start, which every
// Claude session pays (together about 30 ms of CPU on a 2-core machine, a fifth of the start-up):
//
// - ajv, ajv-formats and fast-uri, which the SDK *server* imports only to validate elicitation answers; the
//   bridge never elicits. Only the server's import is replaced: the SDK client keeps ajv (it validates
//   tool output against the output schema).
// - zod/v3 and zod-to-json-schema, which the SDK uses only for Zod 3 schemas; this project uses Zod 4 only.
// - zod's message locales other than English (`z.locales.*`), which nothing here uses.
//
// Each stub throws a sentence saying what was left out, should a future change ever reach it.
// Measure with scripts/bench/cold-start.ts; inspect with `node scripts/build.mjs --analyze`.

const SDK_SERVER_INDEX =
	/@modelcontextprotocol[\\/]sdk[\\/]dist[\\/]esm[\\/]server[\\/]index\.js$/;
const SDK_ZOD_COMPAT =
	/@modelcontextprotocol[\\/]sdk[\\/]dist[\\/]esm[\\/]server[\\/]zod-(json-schema-)?compat\.js$/;
const ZOD_LOCALES_INDEX = /zod[\\/]v4[\\/]locales[\\/]index\.js$/;

const left = (what) =>
	`throw new Error(${JSON.stringify(`${what} is left out of this bundle (mcp-client/bundle-trim.mjs)`)});`;

const STUBS = {
	"ajv-provider": `export class AjvJsonSchemaValidator { getValidator() { ${left("JSON Schema validation in the MCP server (elicitation)")} } }`,
	"zod/v3": `export function object() { ${left("Zod 3 support in the MCP SDK")} }`,
	"zod-to-json-schema": `export function zodToJsonSchema() { ${left("Zod 3 support in the MCP SDK")} }`,
};

/** @type {import("esbuild").Plugin} */
export const bundleTrim = {
	name: "claude-relay-bundle-trim",
	setup(build) {
		build.onResolve({ filter: /validation[\\/]ajv-provider\.js$/ }, (args) =>
			SDK_SERVER_INDEX.test(args.importer)
				? { path: "ajv-provider", namespace: "relay-trim" }
				: undefined,
		);
		build.onResolve({ filter: /^(zod\/v3|zod-to-json-schema)$/ }, (args) =>
			SDK_ZOD_COMPAT.test(args.importer)
				? { path: args.path, namespace: "relay-trim" }
				: undefined,
		);
		build.onLoad({ filter: /.*/, namespace: "relay-trim" }, (args) => ({
			loader: "js",
			contents: STUBS[args.path],
		}));
		build.onLoad({ filter: ZOD_LOCALES_INDEX }, () => ({
			loader: "js",
			contents: 'export { default as en } from "./en.js";',
		}));
	},
};
