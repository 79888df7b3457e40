// app.mjs: sessions in the worker's memory (express-session's default MemoryStore).
// Run with sticky=true, so that each client's requests reach the worker that holds its session.
import express from 'express';
import session from 'express-session';

const app = express();
app.use(session({ secret: process.env.SESSION_SECRET ?? 'change me', resave: false, saveUninitialized: false }));
app.post('/login', (req, res) => {
  req.session.user = 'ann';
  res.send('logged in\n');
});
app.get('/me', (req, res) => {
  if (req.session.user === undefined) res.status(401).send('who are you?\n');
  else res.send(`hello ${req.session.user}\n`);
});
export default app;
