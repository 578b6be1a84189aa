// DNS rebinding guard: a keyless server on loopback answers only to loopback Host names (and
// --allowed-hosts); with keys, or on a public address, any Host is served.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig, type ServerConfig } from '../../src/config.ts';
import { hostName, isLoopbackName } from '../../src/http/host-guard.ts';
import { kitTestOptions } from '../support/kit.ts';
import { startTestServer } from '../support/server.ts';
import { rawRequest } from './raw.ts';

test('host names: port, brackets, case and a trailing dot do not matter', () => {
  assert.equal(hostName('LocalHost:8080'), 'localhost');
  assert.equal(hostName('[::1]:80'), '::1');
  assert.equal(hostName('127.0.0.1.'), '127.0.0.1');
  assert.equal(hostName('evil.example:1'), 'evil.example');
  for (const n of ['localhost', 'app.localhost', '127.0.0.1', '127.1.2.3', '::1']) {
    assert.equal(isLoopbackName(n), true, n);
  }
  for (const n of [
    'evil.example',
    '127.0.0.1.evil.example',
    'localhost.evil.example',
    '0.0.0.0',
    '10.0.0.1',
    '',
  ]) {
    assert.equal(isLoopbackName(n), false, n);
  }
});

describe('the Host header of a keyless loopback server', kitTestOptions(), () => {
  const get = async (config: Partial<ServerConfig>, host: string) => {
    const ts = await startTestServer({ listen: false, config });
    try {
      return await ts.server.app.inject({ method: 'GET', url: '/v1/models', headers: { host } });
    } finally {
      await ts.close();
    }
  };

  test('a rebound name is refused with 403 host_not_allowed; loopback names are served', async () => {
    for (const host of ['evil.example', 'evil.example:8080', '192.168.1.20:8080', '0.0.0.0:8080']) {
      const r = await get({}, host);
      assert.equal(r.statusCode, 403, host);
      const err = (r.json() as { error: { code: string; type: string; message: string } }).error;
      assert.equal(err.code, 'host_not_allowed');
      assert.equal(err.type, 'permission_error');
      assert.match(err.message, /--allowed-hosts/);
    }
    for (const host of ['localhost', 'localhost:8080', '127.0.0.1:9', '[::1]:8080', 'app.localhost']) {
      assert.equal((await get({}, host)).statusCode, 200, host);
    }
  });

  test('--allowed-hosts adds names (* = any); keys or a public bind turn the guard off', async () => {
    assert.equal((await get({ allowedHosts: ['pc.lan'] }, 'pc.lan:8080')).statusCode, 200);
    assert.equal((await get({ allowedHosts: ['pc.lan'] }, 'evil.example')).statusCode, 403);
    assert.equal((await get({ allowedHosts: ['*'] }, 'evil.example')).statusCode, 200);
    assert.equal((await get({ host: '0.0.0.0' }, 'evil.example')).statusCode, 200);
    const keyed = await get({ apiKeys: ['sk-host'] }, 'evil.example');
    assert.equal(keyed.statusCode, 401, 'with keys the key decides');
  });

  test('over a real socket, as a rebinding page would send it', async () => {
    const ts = await startTestServer();
    try {
      const port = new URL(ts.url).port;
      const evil = await rawRequest(ts.url, 'GET', '/v1/models', { Host: `attacker.example:${port}` });
      assert.equal(evil.status, 403);
      const ok = await rawRequest(ts.url, 'GET', '/v1/models', { Host: `localhost:${port}` });
      assert.equal(ok.status, 200);
    } finally {
      await ts.close();
    }
  });
});

test('flags: --allowed-hosts, --max-streams, --max-streams-per-key (and their env names)', () => {
  const c = loadConfig({ allowedHosts: 'PC.lan, *', maxStreams: '10' }, { IMAGINE_MAX_STREAMS_PER_KEY: '3' });
  assert.deepEqual(c.allowedHosts, ['pc.lan', '*']);
  assert.equal(c.maxStreams, 10);
  assert.equal(c.maxStreamsPerKey, 3);
  const d = loadConfig({}, {});
  assert.deepEqual([d.allowedHosts, d.maxStreams, d.maxStreamsPerKey], [[], 256, 32]);
  assert.throws(() => loadConfig({ maxStreams: '0' }, {}), /--max-streams must be from 1/);
});
