// Types of app-builds.mjs.

/** The built fixture app `name` (npm ci and npm run build, once per version of its sources): its directory. */
export function builtApp(name: string): Promise<string>;
