import test from 'ava';
import { freePort } from '../../qemu/ports.ts';
import { bindConsole } from './index.ts';
import { adapterPath, boardSide, Bytes } from './testing/fixtures.ts';

test('each console kind binds its driver', async (t) => {
  const link = await adapterPath(t);
  const { pty } = await boardSide(t, link);
  const serial = bindConsole({ kind: 'serial', port: { device: link }, baud: 115200 }, 'rpi4-lab1');
  t.teardown(() => serial.close());
  const fromBoard = Bytes.of(await serial.open());
  pty.write(Buffer.from('hello'));
  await fromBoard.until('hello');

  const port = await freePort();
  const network = bindConsole({ kind: 'ser2net', host: '127.0.0.1', port, protocol: 'raw', baud: 115200 }, 'rpi4-lab2');
  await t.throwsAsync(network.open(), { message: new RegExp(`cannot reach ser2net at 127\\.0\\.0\\.1:${port}`) });
});
