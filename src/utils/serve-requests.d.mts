// Types of `serve-requests.mjs` (plain JavaScript, for the worker threads that load no TypeScript).
export declare const READY: 'ready'
export declare const CLOSE: 'close'
export declare function serveRequests(handle: (request: Uint8Array) => Uint8Array): void
