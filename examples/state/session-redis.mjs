// app.mjs: sessions in Redis, which every worker (and every machine) reaches: no sticky=true needed,
// and a session outlives a reload.
import express from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';

const redis = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
await redis.connect();

const app = express();
app.use(session({ store: new RedisStore({ client: redis }), secret: process.env.SESSION_SECRET ?? 'change me', resave: false, saveUninitialized: false }));
app.post('/login', (req, res) => {
  req.session.user = 'ann';
  res.send('logged in\n');
});
app.get('/me', (req, res) => {
  if (req.session.user === undefined) res.status(401).send('who are you?\n');
  else res.send(`hello ${req.session.user}\n`);
});
// runfcgi calls close() when the worker leaves: the connection to Redis goes too.
export const close = () => redis.quit();
export default app;
