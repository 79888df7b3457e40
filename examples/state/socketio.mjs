// app.mjs: socket.io over long-polling (WebSocket does not pass through FastCGI). Run with sticky=true:
// each polling request must reach the worker that holds its socket.io session.
import http from 'node:http';
import { Server } from 'socket.io';

const server = http.createServer();
const io = new Server(server, { transports: ['polling'] });
io.on('connection', (socket) => {
  socket.on('double', (n, ack) => ack(n * 2));
});
export default server;
