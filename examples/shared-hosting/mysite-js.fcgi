#!/usr/bin/env node
// The same launcher in JavaScript: runfcgi's programmatic API, as Django's
// runfastcgi(method="threaded", daemonize="false"). It lives in the web root,
// so it finds runfcgi in the project's node_modules, not beside itself.
const project = '/home/user/myproject';
process.chdir(project);
import(require.resolve('runfcgi', { paths: [project] })).then(({ run }) =>
  run({ app: './app.js', method: 'threaded', daemonize: false, touchreload: __filename }),
);
