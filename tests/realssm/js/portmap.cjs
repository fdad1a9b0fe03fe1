// realssm: preloaded with `node -r` into the SSM server. SSM listens on fixed ports (3000 HTTP; v0.5 also
// 3001 MCP and 3002 its internal TCP microservice, which it connects to itself); this maps them to the ports
// the launcher chose (REALSSM_PORT_MAP='{"3000": 41234, ...}'), for listen() (bound to 127.0.0.1) and for
// connections to a local address, so that several servers can run at once. Nothing else is changed.
'use strict';
const net = require('net');

const map = JSON.parse(process.env.REALSSM_PORT_MAP || '{}');
const listen = net.Server.prototype.listen;

net.Server.prototype.listen = function realssmListen(...args) {
  const first = args[0];
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    const to = map[String(first)];
    if (to !== undefined) {
      const rest = args.slice(1);
      if (typeof rest[0] === 'string') rest.shift();
      return listen.call(this, Number(to), '127.0.0.1', ...rest);
    }
  } else if (first && typeof first === 'object' && first.port !== undefined) {
    const to = map[String(first.port)];
    if (to !== undefined) {
      return listen.call(this, { ...first, port: Number(to), host: '127.0.0.1' }, ...args.slice(1));
    }
  }
  return listen.apply(this, args);
};

const LOCAL = new Set([undefined, null, '', 'localhost', '127.0.0.1', '::1', '0.0.0.0', '::']);
const connect = net.Socket.prototype.connect;

net.Socket.prototype.connect = function realssmConnect(...args) {
  const first = args[0];
  if (Array.isArray(first)) { // net.connect() passes its normalized [options, callback] array
    const options = first[0];
    if (options && typeof options === 'object' && options.port !== undefined && !options.path) {
      const to = map[String(options.port)];
      if (to !== undefined && LOCAL.has(options.host)) first[0] = { ...options, port: Number(to), host: '127.0.0.1' };
    }
    return connect.apply(this, args);
  }
  if (first && typeof first === 'object' && first.port !== undefined && !first.path) {
    const to = map[String(first.port)];
    if (to !== undefined && LOCAL.has(first.host)) {
      return connect.call(this, { ...first, port: Number(to), host: '127.0.0.1' }, ...args.slice(1));
    }
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    const to = map[String(first)];
    const host = typeof args[1] === 'string' ? args[1] : undefined;
    if (to !== undefined && LOCAL.has(host)) {
      const rest = args.slice(typeof args[1] === 'string' ? 2 : 1);
      return connect.call(this, Number(to), '127.0.0.1', ...rest);
    }
  }
  return connect.apply(this, args);
};
