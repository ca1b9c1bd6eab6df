/**
 * Fills in the `{{NAME}}` placeholders of the service templates in this directory (launchd plists and systemd
 * user units), escaping each value for the file's format. Strict on purpose: a template that names a
 * placeholder this module does not know, or a value that is missing, is an error, never a silent blank.
 */
import { UserError } from "../sessions/cli-errors.js";

/** Every placeholder the templates may use. */
export const PLACEHOLDERS = [
	"NODE", // absolute path of the node binary (process.execPath)
	"CLI", // real path of dist/cli.js
	"HOME",
	"RELAY_HOME",
	"PATH", // PATH for the service
	"PORT", // the hub's port; for a tunnel, the local end
	"REMOTE_PORT", // the hub's port on the far side of a tunnel
	"LOG_DIR",
	"SSH", // absolute path of autossh, or of ssh
	"SSH_TARGET", // user@host
] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];
export type TemplateValues = Partial<Record<Placeholder, string | number>>;

/** plist: XML. systemd: a unit file. */
export type TemplateFormat = "plist" | "systemd";

export class TemplateError extends UserError {
	override name = "TemplateError";
}

const TOKEN = /\{\{([^{}]*)\}\}/g;
const KNOWN: ReadonlySet<string> = new Set(PLACEHOLDERS);

export function formatOf(templateName: string): TemplateFormat {
	return templateName.endsWith(".plist") ? "plist" : "systemd";
}

function escapeXml(value: string): string {
	return value
		.replace(/&/g, "&amp;")
		.replace(/</g, "&lt;")
		.replace(/>/g, "&gt;")
		.replace(/"/g, "&quot;")
		.replace(/'/g, "&apos;");
}

/**
 * systemd expands `%` specifiers everywhere (`%%` is a literal `%`), but `$`, `"` and `\` mean different
 * things in ExecStart=, Environment= and StandardOutput=; a value holding one is refused rather than guessed.
 */
function escapeSystemd(name: string, value: string): string {
	const bad = value.match(/[$"\\]/);
	if (bad)
		throw new TemplateError(
			`{{${name}}} cannot contain '${bad[0]}' in a systemd unit (got ${JSON.stringify(value)})`,
		);
	return value.replace(/%/g, "%%");
}

/** The placeholders a template uses, in order of first use; throws for malformed or unknown ones. */
export function placeholdersOf(template: string): Placeholder[] {
	const names: Placeholder[] = [];
	for (const match of template.matchAll(TOKEN)) {
		const name = match[1] ?? "";
		if (!KNOWN.has(name))
			throw new TemplateError(
				`unknown placeholder {{${name}}} (known: ${PLACEHOLDERS.join(", ")})`,
			);
		if (!names.includes(name as Placeholder)) names.push(name as Placeholder);
	}
	const leftover = template.replace(TOKEN, "");
	if (leftover.includes("{{") || leftover.includes("}}"))
		throw new TemplateError(
			"malformed placeholder: a '{{' or '}}' without its partner",
		);
	return names;
}

/** Renders a template. Throws TemplateError for unknown or missing placeholders and for unusable values. */
export function render(
	template: string,
	values: TemplateValues,
	format: TemplateFormat,
): string {
	for (const key of Object.keys(values))
		if (!KNOWN.has(key))
			throw new TemplateError(
				`unknown placeholder {{${key}}} in the values given`,
			);
	const missing = placeholdersOf(template).filter(
		(name) => values[name] === undefined || values[name] === "",
	);
	if (missing.length > 0)
		throw new TemplateError(
			`no value for ${missing.map((n) => `{{${n}}}`).join(", ")}`,
		);
	return template.replace(TOKEN, (_all, name: Placeholder) => {
		const value = String(values[name]);
		// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters on purpose
		if (/[\u0000-\u001f\u007f]/.test(value))
			throw new TemplateError(
				`{{${name}}} contains a control character or a line break (got ${JSON.stringify(value)})`,
			);
		return format === "plist" ? escapeXml(value) : escapeSystemd(name, value);
	});
}
