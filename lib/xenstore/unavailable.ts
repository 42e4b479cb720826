// The one error XenStore.open raises when xenstore cannot be reached: what is
// missing, what was tried, and how to fix it.
import { existsSync } from 'node:fs';
import { XenStoreError } from './errors.js';
import { xenstoreCandidates } from './protocol.js';

export function unavailableError(cause: unknown, path: string | undefined): Error {
  if (!(cause instanceof XenStoreError)) return cause as Error;
  const lines: string[] = [];
  let tried: string;
  if (cause.code === 'ERR_DLOPEN_FAILED') {
    tried = cause.message.replace(/^ERR_DLOPEN_FAILED: /, '').replace(/, dlopen$/, '');
    lines.push(
      'xen-domconfig: xenstore is unavailable: libxenstore could not be loaded.',
      `  Tried: ${tried}`,
      'Possible fixes:',
      '  - install the Xen store library: apt-get install libxenstore4 (Debian/Ubuntu) or your distribution\'s xen-libs',
      '  - or set XEN_DOMCONFIG_LIBXENSTORE to the path of libxenstore.so',
    );
  } else {
    tried = xenstoreCandidates(path)
      .map((candidate) => `${candidate} (${existsSync(candidate) ? 'exists' : 'missing'})`)
      .join(', ');
    lines.push(
      `xen-domconfig: xenstore is unavailable: cannot connect to xenstored (${cause.code}).`,
      `  Tried: ${tried}`,
      'Possible fixes:',
      '  - run on dom0 of a Xen host, as root, with xenstored running (systemctl start xenstored)',
      '  - point at the daemon\'s socket: XenStore.open({ path }) or XENSTORED_PATH=/path/to/socket',
    );
    if (cause.code === 'EACCES' && process.getuid?.() !== 0) lines.push('  - the socket is root-only: run as root');
    if (existsSync('/.dockerenv') || existsSync('/run/.containerenv')) {
      lines.push('  - this looks like a container: bind-mount the host\'s /var/run/xenstored and /dev/xen');
    }
    lines.push('  - without Xen, the tests and the demo start a private xenstored: npm run setup');
  }
  const error = new XenStoreError(lines.join('\n'), {
    code: 'ERR_XENSTORE_UNAVAILABLE',
    errno: cause.errno,
    syscall: cause.syscall,
    cause,
    ...(path !== undefined ? { path } : {}),
  });
  error.tried = tried;
  return error;
}
