/** The dashboard's entry: built by scripts/build.mjs into dist/dashboard/app.js (and app.css). */
import { render } from "preact";
import { App } from "./app.js";
import "./style.css";

const root = document.getElementById("app");
if (root) render(<App />, root);
