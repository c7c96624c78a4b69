import { serveFunction } from "../../shared/runtime/deno.ts";
import { createApp } from "./app.ts";

await serveFunction("support-tickets", createApp);
