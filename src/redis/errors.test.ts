import { ReplyError } from 'ioredis';
import { isRedisUnavailable } from './errors.js';

describe('isRedisUnavailable', () => {
  test.each([
    ['a closed connection', new Error('Connection is closed.')],
    ['a cluster that is not ready', new Error("Cluster isn't ready and enableOfflineQueue options is false")],
    ['a failover in progress', new ReplyError('CLUSTERDOWN The cluster is down')],
    ['a demoted master', new ReplyError("READONLY You can't write against a read only replica.")],
    [
      'a demoted master, inside a script',
      new ReplyError(
        "ERR Error running script (call to f_1): @user_script:3: @user_script: 3: -READONLY You can't write against a read only replica.",
      ),
    ],
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })],
    [
      'retries used up',
      Object.assign(new Error('Reached the max retries per request limit'), { name: 'MaxRetriesPerRequestError' }),
    ],
  ])('%s is', (_, err) => {
    expect(isRedisUnavailable(err)).toBe(true);
  });

  test.each([
    ['a command error', new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value')],
    ['a script error', new ReplyError('ERR Error running script')],
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'x')")],
    ['not an error', 'Connection is closed.'],
  ])('%s is not', (_, err) => {
    expect(isRedisUnavailable(err)).toBe(false);
  });
});
