/**
 * Every HTTP route of the hub, one file each. A new kind of thing the dashboard shows gets a route file under
 * api/ and one line here (and a panel: dashboard/panels/).
 */
import { apiClaimsRoute } from "./api/claims.js";
import { apiHealthRoute } from "./api/health.js";
import { liveRoute } from "./api/live.js";
import { messageRoute } from "./api/message.js";
import { messagesRoute } from "./api/messages.js";
import { receiptsRoute } from "./api/receipts.js";
import { roomsRoute } from "./api/rooms.js";
import { sendRoute } from "./api/send.js";
import { apiSessionsRoute } from "./api/sessions.js";
import { stateRoute } from "./api/state.js";
import { threadRoute } from "./api/thread.js";
import { topicLogRoute } from "./api/topic.js";
import { topicsRoute } from "./api/topics.js";
import { claimsRoute } from "./claims.js";
import { healthzRoute } from "./healthz.js";
import { metricsRoute } from "./metrics.js";
import { assetsRoute, pageRoute } from "./page.js";
import type { Route } from "./router.js";
import { sessionsRoute } from "./sessions.js";

export const ROUTES: readonly Route[] = [
	// Plain endpoints (docs/PROTOCOL.md, HTTP endpoints)
	healthzRoute,
	sessionsRoute,
	claimsRoute,
	metricsRoute,
	// The dashboard and its API (docs/API.md)
	pageRoute,
	assetsRoute,
	apiHealthRoute,
	roomsRoute,
	apiSessionsRoute,
	messagesRoute,
	messageRoute,
	threadRoute,
	receiptsRoute,
	topicsRoute,
	topicLogRoute,
	stateRoute,
	apiClaimsRoute,
	sendRoute,
	liveRoute,
];
