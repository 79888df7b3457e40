// The Hono app of the fetch benchmark: a text route, a JSON route, and a JSON echo (POST).
import { Hono } from 'hono';

const app = new Hono();
app.get('/', (c) => c.text('Hello, World!\n'));
app.get('/json', (c) => c.json({ message: 'Hello, World!', items: [1, 2, 3] }));
app.post('/echo', async (c) => c.json(await c.req.json()));

export default app;
