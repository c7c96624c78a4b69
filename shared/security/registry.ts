// Where createFunctionApp (shared/http) finds the security monitor of a function without every
// function passing it: createDeps registers one per Deps, keyed by the Deps' logger (the one
// object every function hands to createFunctionApp). No imports: shared/http depends on this file only.
import type { MiddlewareHandler } from "hono";

export interface RequestMonitor {
  /** The middleware for function `name`. */
  middleware(name: string): MiddlewareHandler;
}

const monitors = new WeakMap<object, RequestMonitor>();

export function registerMonitor(key: object, monitor: RequestMonitor): void {
  monitors.set(key, monitor);
}

export function monitorFor(key: object): RequestMonitor | undefined {
  return monitors.get(key);
}
