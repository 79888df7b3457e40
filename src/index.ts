// The package's main export: run() and the types and pieces a launcher or embedder needs.

export { run } from './run.js';
export type { OptionInput as RunOptions, Options, Method, Protocol } from './config/options.js';
export { RunfcgiError, UsageError, AppLoadError, WorkerBootError } from './shared/errors.js';
export type { FcgiInfo } from './adapter/types.js';
export type { FetchApp, FetchContext } from './adapter/fetch.js';
export { FastResponse } from './adapter/fast-response.js';
