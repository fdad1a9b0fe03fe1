// realssm: preloaded with `node -r` into the SSM server. SSM listens on fixed ports (3000, and 3001 for
// MCP); this maps them to the ports the launcher chose (REALSSM_PORT_MAP='{"3000": 41234, ...}') and binds
// them to 127.0.0.1, so that several servers can run at once. Nothing else is changed.
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
