/// <reference types="node" preserve="true" />

export {
  appendFile,
  copyFile,
  type ReadFileOptions,
  readFile,
  type WriteData,
  type WriteFileOptions,
  writeFile,
} from './file-promises.js';
export {
  createReadStream,
  createWriteStream,
  type FileStreamOptions,
  ReadStream,
  type ReadStreamOptions,
  WriteStream,
  type WriteStreamOptions,
} from './file-streams.js';
export { serveHttp } from './http.js';
export { createNet, type NetConnectOptions, type ProactorNet } from './net.js';
export {
  type ConnectionListener,
  createServer,
  type ListenOptions,
  Server,
  type ServerOptions,
} from './server.js';
export { type ConnectOptions, connect, Socket, type SocketOptions } from './socket.js';
