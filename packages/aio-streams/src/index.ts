/// <reference types="node" preserve="true" />

export { serveHttp } from './http.js';
export { createNet, type NetConnectOptions, type ProactorNet } from './net.js';
export { createServer, type ListenOptions, Server, type ServerOptions } from './server.js';
export { type ConnectOptions, connect, Socket, type SocketOptions } from './socket.js';
