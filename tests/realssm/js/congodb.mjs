// realssm: start CongoDB (the MongoDB wire-protocol server of @push.rocks/smartmongo) on 127.0.0.1:<port>.
// Usage: node congodb.mjs PORT. Prints "congodb ready <port>" once it listens.
import { CongoServer } from './smartmongo/dist_ts/congodb/index.js';

const port = Number(process.argv[2]);
const server = new CongoServer({ port, host: '127.0.0.1' });
await server.start();
console.log(`congodb ready ${port}`);
