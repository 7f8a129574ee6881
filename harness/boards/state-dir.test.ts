import test from 'ava';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stateDir } from './state-dir.ts';
import { tempDir } from '../testing/temp-dir.ts';

test('DUTLAB_STATE_DIR wins; else the system directory when writable; else the user state directory', async (t) => {
  const root = await tempDir(t, 'state');
  const system = path.join(root, 'var/lib/dutlab');
  t.is(stateDir({ DUTLAB_STATE_DIR: '/srv/farm/dutlab', HOME: root }, system), '/srv/farm/dutlab');
  t.is(stateDir({ HOME: root }, system), system);

  // A system directory that cannot be created (its parent is a file) is not writable, whoever runs this.
  const blocked = path.join(root, 'not-a-dir');
  await writeFile(blocked, '');
  t.is(stateDir({ HOME: root }, path.join(blocked, 'dutlab')), path.join(root, '.local/state/dutlab'));
  t.is(stateDir({ HOME: root, XDG_STATE_HOME: path.join(root, 'xdg') }, path.join(blocked, 'dutlab')), path.join(root, 'xdg/dutlab'));
});
