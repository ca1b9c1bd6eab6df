/** The package ships no types: what its README documents (prom2json's shape; every number a string). */
declare module "parse-prometheus-text-format" {
	export interface ParsedSample {
		value?: string;
		labels?: Record<string, string>;
		buckets?: Record<string, string>;
		count?: string;
		sum?: string;
	}
	export interface ParsedFamily {
		name: string;
		help: string;
		type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "SUMMARY" | "UNTYPED";
		metrics: ParsedSample[];
	}
	export default function parsePrometheusTextFormat(text: string): ParsedFamily[];
}
