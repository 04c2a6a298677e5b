// Parsing HAProxy's runtime answers (captured from HAProxy 2.6) by header names, so columns
// added by later versions do not move anything; and one-line commands only.
import { describe, expect, it } from 'vitest';
import { adminMode, parseServersState, parseStatCsv, runtimeCommand } from './haproxy-runtime.js';

const STATE =
  '1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n' +
  '3 web 1 vm1 127.0.0.1 0 8 1 1 0 8 2 0 6 0 0 0 - 18081 - 0 0 - - 0\n' +
  '4 api 1 vm1 127.0.0.1 0 2 1 1 1 1 0 2 0 0 0 0 - 18081 - 0 0 - - 0\n\n';

describe('haproxy runtime answers', () => {
  it('show servers state: names, address, states', () => {
    expect(parseServersState(STATE)).toEqual([
      { backend: 'web', server: 'vm1', address: '127.0.0.1', port: 18081, opState: 0, adminState: 8 },
      { backend: 'api', server: 'vm1', address: '127.0.0.1', port: 18081, opState: 0, adminState: 2 },
    ]);
    expect(parseServersState("Can't find backend.\n\n")).toEqual([]);
  });

  it('admin state bits read as the words set server uses', () => {
    expect([0, 1, 2, 4, 8, 16, 9, 0x20, 0x40].map(adminMode)).toEqual([
      'ready',
      'maint',
      'maint',
      'maint',
      'drain',
      'drain',
      'maint',
      'maint',
      'maint',
    ]);
  });

  it('show stat CSV by column name', () => {
    const rows = parseStatCsv('# pxname,svname,qcur,qmax,scur,smax\nweb,vm1,0,0,3,7\nweb,vm2,0,0,0,1\n\n');
    expect(rows.map((r) => [r.svname, r.scur])).toEqual([
      ['vm1', '3'],
      ['vm2', '0'],
    ]);
  });

  it('refuses a command that could carry a second one', () => {
    expect(() => runtimeCommand({ socket: '/nowhere' }, 'show info\nshutdown frontend fe')).toThrow(
      /one line/,
    );
    expect(() => runtimeCommand({ socket: '/nowhere' }, 'show info; disable server web/vm1')).toThrow(
      /one line/,
    );
  });
});
