/**
 * The dashboard's panels, one file each, in the order they appear in their column. A new kind of thing the
 * hub holds gets a panel file here and one line below (and an API route: server/http/routes.ts).
 */
import type { JSX } from "preact";
import type { Filter, Model } from "../model.js";
import type { MessagePreview, SendAnswer } from "../types.js";
import { claimsPanel } from "./claims.js";
import { composerPanel } from "./composer.js";
import { healthPanel } from "./health.js";
import { inspectorPanel } from "./inspector.js";
import { sessionsPanel } from "./sessions.js";
import { statePanel } from "./state.js";
import { streamPanel } from "./stream.js";
import { topicsPanel } from "./topics.js";

/** What a panel may do: everything goes through the app, which talks to the hub and updates the model. */
export interface Actions {
	select(id: string | null): void;
	/** What the stream shows: a session's messages, a topic's log, a thread; null for the whole room. */
	filter(filter: Filter | null): void;
	loadOlder(): Promise<void>;
	/** The next page of a thread shown in the stream. */
	loadNewer(): Promise<void>;
	/** The next page of the open message's thread. */
	loadMoreThread(): Promise<void>;
	/** Answer this message from the composer: its replyTo and its target (model.ts, replyTarget). */
	reply(to: MessagePreview | null): void;
	/** The composer's target: a session ID, `*`, `#topic` or a list. */
	target(to: string): void;
	send(input: { to: string; body: string; replyTo?: string }): Promise<SendAnswer>;
	stateValue(key: string): Promise<unknown>;
}

export interface PanelProps {
	model: Model;
	actions: Actions;
	/** The page's clock, ticking every second (idle times, expiries). */
	now: number;
}

export interface Panel {
	id: string;
	title: string;
	/** side: the left column; main: the middle; aside: the right. */
	area: "side" | "main" | "aside";
	component: (props: PanelProps) => JSX.Element | null;
}

export const PANELS: readonly Panel[] = [
	healthPanel,
	sessionsPanel,
	topicsPanel,
	claimsPanel,
	statePanel,
	streamPanel,
	composerPanel,
	inspectorPanel,
];
