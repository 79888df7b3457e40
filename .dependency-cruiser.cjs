// The import boundaries of src/, checked by `npm run lint:deps` (part of `npm test`):
// the folder says which process runs the code, so imports across the process line are errors.
// docs/design.md draws the same picture.

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      severity: 'error',
      comment: 'An import cycle makes load order matter and hides which module owns what: give one side a narrow interface or move the shared part out.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'master-not-worker',
      severity: 'error',
      comment: 'The master and the workers are different processes (or threads): they share only src/shared/ (the messages between them).',
      from: { path: '^src/master/' },
      to: { path: '^src/worker/' },
    },
    {
      name: 'worker-not-master',
      severity: 'error',
      comment: 'Code that runs inside a worker must not load the master: they share only src/shared/ (the messages between them).',
      from: { path: '^src/worker/' },
      to: { path: '^src/master/' },
    },
    {
      name: 'protocol-only-protocol',
      severity: 'error',
      comment: 'src/protocol/ is the wire only (as Go\'s net/http/fcgi): it imports other protocol modules and Node builtins, nothing of ours above it and no package.',
      from: { path: '^src/protocol/' },
      to: { pathNot: '^src/protocol/', dependencyTypesNot: ['core'] },
    },
    {
      name: 'adapter-not-processes',
      severity: 'error',
      comment: 'The adapters turn a protocol request into an app call: they know the protocol\'s request type, not the processes that run them.',
      from: { path: '^src/adapter/' },
      to: { path: '^src/(master|worker)/' },
    },
    {
      name: 'shared-below-processes',
      severity: 'error',
      comment: 'src/shared/ is what master and worker share: it cannot depend on either, nor on the CLI.',
      from: { path: '^src/shared/' },
      to: { path: '^src/(master|worker|cli)/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve: a typo, or a package missing from package.json.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a master that imports a worker's types still couples the two.
    tsPreCompilationDeps: true,
    // TypeScript 7 has no JavaScript API, which dependency-cruiser's TypeScript parser needs.
    parser: 'swc',
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
